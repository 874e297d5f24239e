using System.Diagnostics;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Jobs;
using Worker.Core.Logs;
using Worker.Core.Telemetry;

namespace Worker.Core.Tests;

/// <summary>A job's span, its steps' spans and its metrics, as the pipeline emits them through System.Diagnostics.</summary>
public sealed class JobTraceTests : IDisposable
{
    private static readonly string[] StepsOfARun =
    [
        "generate script", "receive", "start machine", "upload script", "run script", "teardown",
    ];

    private readonly SpanRecorder _spans = new();
    private readonly MetricRecorder _metrics = new();

    // Metrics are process-wide and other tests run the fake backend at the same time: this one's jobs have a backend name of their own.
    private readonly string _backend = "fake-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose()
    {
        _spans.Dispose();
        _metrics.Dispose();
    }

    private PipelineHarness Harness(FakeOptions fake) => new(new NamedBackend(new FakeBackend(fake), _backend));

    [Fact]
    public async Task A_payload_the_pipeline_finds_unusable_is_a_dead_lettered_job_span_and_not_counted_as_finished()
    {
        var harness = new PipelineHarness(new NamedBackend(new FakeBackend(new FakeOptions()), _backend), scripts: new RefusingGenerator());
        harness.Queue.Enqueue(JobFile.Parse("script: [\"true\"]", "test"));
        var (job, verdict) = await harness.RunNextAsync();
        Assert.True(verdict.DeadLetter);

        var span = _spans.Job(job.Payload.JobId);
        Assert.Equal(("dead_lettered", "unusable", ActivityStatusCode.Error),
            ((string?)span.GetTagItem(TraceAttributes.State), (string?)span.GetTagItem(TraceAttributes.Outcome), span.Status));
        Assert.Equal(ActivityStatusCode.Error, _spans.ChildrenOf(span).Single(s => s.OperationName == "generate script").Status);
        Assert.Equal(0, _metrics.Sum("worker.jobs.finished", (TraceAttributes.Backend, _backend)));
    }

    private sealed class RefusingGenerator : Worker.Core.Scripts.IScriptGenerator
    {
        public Task<string> GenerateAsync(JobPayload payload, CancellationToken ct) => throw new InvalidJobPayloadException("config.script is not usable");
    }

    [Fact]
    public async Task Each_step_is_a_child_span_of_the_job_in_order_and_the_job_span_says_how_it_ended()
    {
        var harness = Harness(new FakeOptions());
        var payload = JobFile.Parse("script: [\"true\"]", "test");
        payload.Root["job"]!["queued_at"] = "2020-01-01T00:00:00Z";
        harness.Queue.Enqueue(payload);
        var (job, verdict) = await harness.RunNextAsync();
        Assert.Equal(FinishState.Passed, verdict.State);

        var span = _spans.Job(job.Payload.JobId);
        Assert.Equal((ActivityKind.Consumer, default(ActivitySpanId)), (span.Kind, span.ParentSpanId));
        Assert.Equal(("passed", "exited", 0, _backend), ((string?)span.GetTagItem(TraceAttributes.State), (string?)span.GetTagItem(TraceAttributes.Outcome),
            (int?)span.GetTagItem(TraceAttributes.ExitCode), (string?)span.GetTagItem(TraceAttributes.Backend)));
        Assert.StartsWith("fake-", (string?)span.GetTagItem(TraceAttributes.InstanceId));
        var steps = _spans.ChildrenOf(span);
        Assert.Equal(StepsOfARun, steps.Select(s => s.OperationName));
        Assert.All(steps, s => Assert.Equal(ActivityStatusCode.Unset, s.Status));

        Assert.Equal(1, _metrics.Sum("worker.jobs.finished", ("state", "passed"), (TraceAttributes.Backend, _backend)));
        Assert.Equal(1, _metrics.Count("worker.machine.boot.duration", (TraceAttributes.Backend, _backend), (TraceAttributes.Result, "ok")));
        Assert.Equal(1, _metrics.Count("worker.script.upload.duration", (TraceAttributes.Backend, _backend)));
        Assert.Equal(1, _metrics.Count("worker.script.run.duration", (TraceAttributes.Backend, _backend)));
        Assert.Equal(1, _metrics.Count("worker.machine.teardown.duration", (TraceAttributes.Backend, _backend)));
        Assert.Equal(0, _metrics.Sum("worker.jobs.running", (TraceAttributes.Backend, _backend))); // +1 at the start, -1 at the end
        Assert.True(_metrics.Sum("worker.job.queue_wait", (TraceAttributes.Backend, _backend)) > 365 * 24 * 3600, "queued in 2020");
    }

    [Fact]
    public async Task A_machine_that_fails_to_start_marks_its_step_and_the_job_as_errors_and_counts_a_requeue_by_reason()
    {
        var (job, verdict) = await Harness(new FakeOptions { FailStart = true }).RunAsync("script: [\"true\"]");
        Assert.True(verdict.Requeue);

        var span = _spans.Job(job.Payload.JobId);
        Assert.Equal(("requeued", "infrastructure", ActivityStatusCode.Error),
            ((string?)span.GetTagItem(TraceAttributes.State), (string?)span.GetTagItem(TraceAttributes.Outcome), span.Status));
        var steps = _spans.ChildrenOf(span);
        Assert.Equal(["generate script", "receive", "start machine", "teardown"], steps.Select(s => s.OperationName));
        var start = steps.Single(s => s.OperationName == "start machine");
        Assert.Equal(ActivityStatusCode.Error, start.Status);
        Assert.Equal(ActivityStatusCode.Unset, steps.Single(s => s.OperationName == "teardown").Status);
        Assert.Contains("failed to start", start.StatusDescription);

        Assert.Equal(1, _metrics.Sum("worker.jobs.requeued", (TraceAttributes.Backend, _backend), ("reason", "infrastructure"), ("counted", "True")));
        Assert.Equal(0, _metrics.Sum("worker.jobs.finished", (TraceAttributes.Backend, _backend)));
        Assert.Equal(1, _metrics.Count("worker.machine.boot.duration", (TraceAttributes.Backend, _backend), (TraceAttributes.Result, "error")));
    }

    [Fact]
    public async Task A_job_with_a_traceparent_continues_that_trace_and_its_script_exports_the_job_spans_context()
    {
        var backend = new NamedBackend(new FakeBackend(new FakeOptions()), _backend);
        var harness = new PipelineHarness(backend);
        var payload = JobFile.Parse("script: [\"true\"]", "test");
        payload.Root["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        payload.Root["tracestate"] = "congo=t61rcWkgMzE";
        harness.Queue.Enqueue(payload);
        var (job, _) = await harness.RunNextAsync();
        var script = ((FakeBackend.FakeInstance)Assert.Single(backend.Started)).Script;

        var span = _spans.Job(job.Payload.JobId);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", span.TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", span.ParentSpanId.ToHexString());
        Assert.True(span.HasRemoteParent);
        Assert.Equal("congo=t61rcWkgMzE", span.TraceStateString);
        Assert.NotNull(script);
        var lines = script!.Split('\n');
        Assert.Equal("#!/usr/bin/env bash", lines[0]);
        Assert.Equal($"export TRACEPARENT='00-0af7651916cd43dd8448eb211c80319c-{span.SpanId.ToHexString()}-01'", lines[1]);
        Assert.Equal("export TRACESTATE='congo=t61rcWkgMzE'", lines[2]);
    }

    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01")] // a zero span id
    [InlineData("0af7651916cd43dd8448eb211c80319c")]
    [InlineData("'; rm -rf / #")]
    public void A_traceparent_that_is_not_valid_W3C_is_no_parent(string traceParent)
    {
        var payload = JobFile.Parse("script: [\"true\"]", "test");
        payload.Root["traceparent"] = traceParent;

        Assert.Equal(default, JobTraceContext.Of(payload));
        Assert.Equal("#!/bin/sh\necho hi\n", JobTraceContext.Export("#!/bin/sh\necho hi\n", JobTraceContext.Of(payload)));
    }

    [Fact]
    public void A_transport_header_fills_in_the_context_only_where_the_payload_has_none()
    {
        var payload = JobFile.Parse("script: [\"true\"]", "test");
        JobTraceContext.Carry(payload, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "a=b");
        JobTraceContext.Carry(payload, "00-11111111111111111111111111111111-2222222222222222-01", null);

        var context = JobTraceContext.Of(payload);
        Assert.Equal(("0af7651916cd43dd8448eb211c80319c", "a=b"), (context.TraceId.ToHexString(), context.TraceState));
    }

    [Fact]
    public void A_script_without_a_shebang_gets_the_exports_first_and_a_tracestate_is_quoted_for_the_shell()
    {
        var context = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None, "k=v'x", isRemote: true);
        var script = JobTraceContext.Export("echo hi\n", context);

        Assert.Equal($"export TRACEPARENT='00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-00'\nexport TRACESTATE='k=v'\\''x'\necho hi\n", script);
    }

    [Fact]
    public void Running_jobs_secrets_are_masked_until_the_job_ends()
    {
        var text = "token abc-secret-123 and xyz-secret-456";
        using (RunningJobSecrets.Register(["abc-secret-123"]))
        {
            using (RunningJobSecrets.Register(["xyz-secret-456", ""]))
            {
                Assert.Equal("token [secure] and [secure]", RunningJobSecrets.Mask(text));
            }
            Assert.Equal("token [secure] and xyz-secret-456", RunningJobSecrets.Mask(text));
        }
        Assert.DoesNotContain("[secure]", RunningJobSecrets.Mask(text));
    }

    /// <summary>A backend under a name of the test's own, which keeps the machines it started.</summary>
    private sealed class NamedBackend(IBackend inner, string name) : IBackend
    {
        public System.Collections.Concurrent.ConcurrentQueue<IInstance> Started { get; } = new();
        public string Name => name;
        public string ProbeDescription => inner.ProbeDescription;
        public Task ProbeAsync(CancellationToken ct) => inner.ProbeAsync(ct);

        public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
        {
            var instance = await inner.StartAsync(attributes, progress, ct);
            Started.Enqueue(instance);
            return instance;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
