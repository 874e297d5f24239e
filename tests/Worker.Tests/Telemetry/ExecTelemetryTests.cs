using System.Diagnostics;
using Worker.Core.Telemetry;
using Worker.TestSupport;
using Worker.Tests.Otlp;

namespace Worker.Tests.Telemetry;

/// <summary>What a real `worker exec` sends over OTLP to a receiver in the test: its job's span tree, its metrics and its log records.</summary>
public sealed class ExecTelemetryTests : IAsyncLifetime, IDisposable
{
    /// <summary>The stages of a job as their spans are named, in the order a job that runs goes through them.</summary>
    public static readonly string[] StepsInOrder =
    [
        "generate script", "receive", "start machine", "upload script", "run script", "teardown",
    ];

    private readonly TempDirectory _dir = new();
    private OtlpReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await OtlpReceiver.StartAsync();

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private Dictionary<string, string> Env(params (string Key, string Value)[] more)
    {
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["WORKER_LOG_LEVEL"] = "information",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _receiver.HttpEndpoint.ToString(),
        };
        foreach (var (key, value) in more)
        {
            env[key] = value;
        }
        return env;
    }

    [Fact]
    public async Task Exec_of_the_hello_example_sends_one_job_span_with_its_steps_as_children_in_order()
    {
        var example = Path.Combine(ExecCommandTests.RepoRoot(), "examples", "hello.yml");
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "exec", example);
        Assert.True(exit == 0, stdout + stderr);

        var job = Assert.Single(_receiver.Spans, s => s.Name == JobTrace.SpanName);
        Assert.Equal(Span.Types.SpanKind.Consumer, job.Kind);
        Assert.Equal(WorkerTelemetry.Name, job.Scope);
        Assert.Equal("", job.ParentSpanId); // no traceparent came with the job: a trace of its own
        Assert.Equal("local", job.Attribute(TraceAttributes.Backend));
        Assert.Equal("passed", job.Attribute(TraceAttributes.State));
        Assert.Equal("exited", job.Attribute(TraceAttributes.Outcome));
        Assert.Equal("0", job.Attribute(TraceAttributes.ExitCode));
        Assert.Equal("exec", job.Attribute(TraceAttributes.Queue));
        Assert.Equal("0", job.Attribute(TraceAttributes.RequeueCount));
        Assert.NotNull(job.Attribute(TraceAttributes.JobId));
        Assert.StartsWith("local-", job.Attribute(TraceAttributes.InstanceId));
        Assert.Equal("worker", job.Resource.Text("service.name"));

        var steps = _receiver.Spans.Where(s => s.ParentSpanId == job.SpanId).OrderBy(s => s.Start).ToList();
        Assert.Equal(StepsInOrder, steps.Select(s => s.Name));
        Assert.All(steps, s =>
        {
            Assert.Equal(job.TraceId, s.TraceId);
            Assert.Equal(Status.Types.StatusCode.Unset, s.StatusCode);
            Assert.True(s.Start >= job.Start && s.End <= job.End, $"{s.Name} lies outside its job's span");
        });
        for (var i = 1; i < steps.Count; i++)
        {
            Assert.True(steps[i].Start >= steps[i - 1].End, $"{steps[i].Name} started before {steps[i - 1].Name} ended");
        }
        Assert.All(_receiver.Requests.Where(r => r.Signal == "traces"), r => Assert.Equal(("http/protobuf", "/v1/traces"), (r.Protocol, r.Path)));
    }

    [Fact]
    public async Task Exec_over_grpc_sends_the_same_tree_its_metrics_and_its_log_lines_with_their_trace()
    {
        var job = _dir.Write("fail.yml", "script: [\"echo failing\", \"exit 1\"]");
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(
            Env(("OTEL_EXPORTER_OTLP_ENDPOINT", _receiver.GrpcEndpoint.ToString()), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")),
            _dir.Path, "exec", job);
        Assert.True(exit == 1, stdout + stderr);

        var span = Assert.Single(_receiver.Spans, s => s.Name == JobTrace.SpanName);
        Assert.Equal("failed", span.Attribute(TraceAttributes.State));
        Assert.Equal("1", span.Attribute(TraceAttributes.ExitCode));
        Assert.Equal(Status.Types.StatusCode.Unset, span.StatusCode); // a failing build is the build's result, not an error of the worker
        Assert.Equal(StepsInOrder, _receiver.Spans.Where(s => s.ParentSpanId == span.SpanId).OrderBy(s => s.Start).Select(s => s.Name));
        Assert.Contains(_receiver.Requests, r => r is { Protocol: "grpc", Path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export" });

        // The metrics are flushed as exec exits.
        var finished = Assert.Single(_receiver.Points, p => p.Name == "worker.jobs.finished");
        Assert.Equal(1, finished.Value);
        Assert.Equal(("failed", "local"), (finished.Attribute("state"), finished.Attribute(TraceAttributes.Backend)));
        Assert.Contains(_receiver.Points, p => p.Name == "worker.script.run.duration" && p.Count == 1 && p.Attribute(TraceAttributes.Backend) == "local");
        Assert.Contains(_receiver.Points, p => p.Name == "worker.job.log" && p.Value >= "failing\n".Length);

        // Every line about the job carries the job's trace.
        var outcome = Assert.Single(_receiver.Logs, l => l.Body.Contains("outcome", StringComparison.Ordinal));
        Assert.Equal(span.TraceId, outcome.TraceId);
        Assert.NotEqual("", outcome.SpanId);
        Assert.Equal(span.Attribute(TraceAttributes.JobId), outcome.Attribute("JobId"));
        Assert.Equal("worker", outcome.Resource.Text("service.name"));
    }

    [Fact]
    public async Task Job_with_a_traceparent_is_its_child_and_its_script_sees_TRACEPARENT_of_the_job_span()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var parentId = ActivitySpanId.CreateRandom().ToHexString();
        var payload = _dir.Write("job.json", $$$"""
            {"type": "test", "job": {"id": 424242, "number": "7.1"}, "repository": {"slug": "octo/cat"},
             "traceparent": "00-{{{traceId}}}-{{{parentId}}}-01", "tracestate": "vendor=abc",
             "config": {"script": ["echo \"seen TRACEPARENT=$TRACEPARENT TRACESTATE=$TRACESTATE\""]}}
            """);
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "exec", payload);
        Assert.True(exit == 0, stdout + stderr);

        var job = Assert.Single(_receiver.Spans, s => s.Name == JobTrace.SpanName);
        Assert.Equal((traceId, parentId), (job.TraceId, job.ParentSpanId));
        Assert.Equal(("424242", "octo/cat", "7.1"),
            (job.Attribute(TraceAttributes.JobId), job.Attribute(TraceAttributes.Repository), job.Attribute(TraceAttributes.JobNumber)));
        Assert.Contains($"seen TRACEPARENT=00-{traceId}-{job.SpanId}-01 TRACESTATE=vendor=abc", stdout);
    }

    [Fact]
    public async Task Without_an_exporter_nothing_is_sent_and_the_script_gets_no_TRACEPARENT()
    {
        var job = _dir.Write("job.yml", "script: [\"echo \\\"[${TRACEPARENT:-none}]\\\"\"]");
        var env = Env();
        env.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, "exec", job);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("[none]", stdout);
        Assert.Empty(_receiver.Requests);
    }
}
