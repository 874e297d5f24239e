using System.Diagnostics;
using System.Globalization;
using System.Text;
using Worker.Core.Jobs;
using Worker.Core.Telemetry;
using Worker.TestSupport;
using Worker.Tests.Otlp;

namespace Worker.Tests.Telemetry;

/// <summary>
/// What a real `worker run` on RabbitMQ sends over OTLP while it runs jobs that pass, fail, error
/// and are requeued (by a drain that runs out): each job's span tree, the parent from the AMQP
/// traceparent header, TRACEPARENT inside the job, and the counts of what became of the jobs.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AmqpRunTelemetryTests(ContainerAmqpBroker broker) : IClassFixture<ContainerAmqpBroker>, IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _queue = "builds.telemetry-" + Guid.NewGuid().ToString("N")[..8];
    private OtlpReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await OtlpReceiver.StartAsync();

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private string Marker(long id, string what) => Path.Combine(_dir.Path, $"{id}.{what}");

    private WorkerProcess StartWorker(params (string Key, string Value)[] more)
    {
        var env = new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.HostUri.ToString(),
            ["WORKER_QUEUE_NAME"] = _queue,
            ["WORKER_PROVIDER_NAME"] = "local",
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["WORKER_POOL_SIZE"] = "1",
            ["WORKER_SHUTDOWN_TIMEOUT"] = "1s",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _receiver.HttpEndpoint.ToString(),
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        };
        foreach (var (key, value) in more)
        {
            env[key] = value;
        }
        return WorkerProcess.Start(env, _dir.Path, "run");
    }

    /// <summary>The job's script writes its TRACEPARENT to a file of the test, then does <paramref name="then"/>.</summary>
    private string Script(long id, string then) =>
        $"script: [\"echo \\\"$TRACEPARENT\\\" > {Marker(id, "traceparent")}\", \"{then}\"]";

    private OtlpSpan JobSpan(long id) =>
        Assert.Single(_receiver.Spans, s => s.Name == JobTrace.SpanName && s.Attribute(TraceAttributes.JobId) == id.ToString(CultureInfo.InvariantCulture));

    private bool Exported(long id) =>
        _receiver.Spans.Any(s => s.Name == JobTrace.SpanName && s.Attribute(TraceAttributes.JobId) == id.ToString(CultureInfo.InvariantCulture));

    /// <summary>Runs the jobs, then a sleeper that SIGTERM's short drain requeues; returns once the worker has exited.</summary>
    private async Task RunUntilRequeuedAsync(WorkerProcess worker, AmqpJobPublisher publisher, long[] finishing, long sleeper)
    {
        await Eventually.TrueAsync(() => finishing.All(Exported), "every finishing job's span arrived",
            gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        await publisher.PublishAsync(sleeper, $"script: [\"touch {Marker(sleeper, "started")}\", \"sleep 300\"]");
        await Eventually.TrueAsync(() => File.Exists(Marker(sleeper, "started")), "the sleeper runs",
            gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task Run_sends_each_jobs_span_tree_its_parent_from_the_header_and_the_counts_of_passed_failed_errored_and_requeued()
    {
        await using var publisher = await AmqpJobPublisher.StartAsync(broker.HostUri, _queue);
        await using var worker = StartWorker();
        var (passed, failed, errored, requeued) = (JobFile.NewJobId(), JobFile.NewJobId() + 1, JobFile.NewJobId() + 2, JobFile.NewJobId() + 3);
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var parentId = ActivitySpanId.CreateRandom().ToHexString();
        await publisher.PublishAsync(passed, Script(passed, "true"), new Dictionary<string, object?>
        {
            ["traceparent"] = Encoding.UTF8.GetBytes($"00-{traceId}-{parentId}-01"),
        });
        await publisher.PublishAsync(failed, Script(failed, "exit 1"));
        await publisher.PublishAsync(errored, Script(errored, "exit 3"));
        await RunUntilRequeuedAsync(worker, publisher, [passed, failed, errored], requeued);

        // The job is a child of the traceparent its message carried; its script saw the job's own span.
        var first = JobSpan(passed);
        Assert.Equal((traceId, parentId), (first.TraceId, first.ParentSpanId));
        Assert.Equal($"00-{traceId}-{first.SpanId}-01", File.ReadAllText(Marker(passed, "traceparent")).Trim());
        Assert.Equal(_queue, first.Attribute(TraceAttributes.Queue));

        Assert.Equal(("passed", Status.Types.StatusCode.Unset), (first.Attribute(TraceAttributes.State), first.StatusCode));
        Assert.Equal(("failed", Status.Types.StatusCode.Unset), (JobSpan(failed).Attribute(TraceAttributes.State), JobSpan(failed).StatusCode));
        var erroredSpan = JobSpan(errored);
        Assert.Equal(("errored", Status.Types.StatusCode.Error), (erroredSpan.Attribute(TraceAttributes.State), erroredSpan.StatusCode));
        Assert.Contains("exited with code 3", erroredSpan.StatusMessage);
        var requeuedSpan = JobSpan(requeued);
        Assert.Equal(("requeued", "shutdown", Status.Types.StatusCode.Error),
            (requeuedSpan.Attribute(TraceAttributes.State), requeuedSpan.Attribute(TraceAttributes.Outcome), requeuedSpan.StatusCode));
        // A job that ran has every step; the requeued one's run step says it ended in error.
        foreach (var id in new[] { passed, failed, errored, requeued })
        {
            var job = JobSpan(id);
            Assert.Equal(ExecTelemetryTests.StepsInOrder, _receiver.Spans.Where(s => s.ParentSpanId == job.SpanId).OrderBy(s => s.Start).Select(s => s.Name));
        }
        // The worker's spans carry only their own attributes (RabbitMQ.Client 7 tags whatever span is current when it writes a frame, if its own sources are listened to).
        Assert.DoesNotContain(_receiver.Spans, s => s.Attributes.ContainsKey("network.type") || s.Attributes.ContainsKey("server.address"));
        var run = _receiver.Spans.Single(s => s.ParentSpanId == requeuedSpan.SpanId && s.Name == "run script");
        Assert.Equal(Status.Types.StatusCode.Error, run.StatusCode);
        Assert.Contains("shutting down", run.StatusMessage);

        // The counts, as the last export before the worker exited says (cumulative).
        Assert.Equal(1, Last("worker.jobs.finished", ("state", "passed"), (TraceAttributes.Backend, "local")));
        Assert.Equal(1, Last("worker.jobs.finished", ("state", "failed"), (TraceAttributes.Backend, "local")));
        Assert.Equal(1, Last("worker.jobs.finished", ("state", "errored"), (TraceAttributes.Backend, "local")));
        Assert.DoesNotContain(_receiver.Points, p => p.Name == "worker.jobs.finished" && p.Attribute("state") is not ("passed" or "failed" or "errored"));
        Assert.Equal(1, Last("worker.jobs.requeued", (TraceAttributes.RequeueReason, "shutdown"), (TraceAttributes.RequeueCounted, "False")));
        Assert.Equal(4UL, LastHistogramCount("worker.script.run.duration"));
        Assert.Equal(0, Last("worker.jobs.running", (TraceAttributes.Backend, "local")));
        Assert.Contains(_receiver.Points, p => p.Name == "worker.amqp.unconfirmed");
        Assert.Contains(_receiver.Points, p => p.Name == "worker.pool.size" && p.Value == 1);
    }

    [Fact]
    public async Task With_a_sample_rate_only_chosen_errored_and_requeued_jobs_are_exported_whole()
    {
        await using var publisher = await AmqpJobPublisher.StartAsync(broker.HostUri, _queue);
        await using var worker = StartWorker(("WORKER_TRACE_SAMPLE_RATE", "1000"));
        var (chosen, dropped, errored, requeued) = (JobFile.NewJobId(), JobFile.NewJobId() + 1, JobFile.NewJobId() + 2, JobFile.NewJobId() + 3);
        await publisher.PublishAsync(chosen, Script(chosen, "true"));
        await publisher.PublishAsync(dropped, Script(dropped, "true"));
        await publisher.PublishAsync(errored, Script(errored, "exit 3"));
        await RunUntilRequeuedAsync(worker, publisher, [chosen, errored], requeued);

        Assert.True(File.Exists(Marker(dropped, "traceparent")), "the second job did not run");
        Assert.False(Exported(dropped), $"job {dropped} was exported (chosen {chosen}, errored {errored}, requeued {requeued}); job spans in the order they came: " +
            string.Join(", ", _receiver.Spans.Where(s => s.Name == JobTrace.SpanName).Select(s => $"{s.Attribute(TraceAttributes.JobId)} {s.Attribute(TraceAttributes.State)}")) +
            "\n" + worker.Stderr);
        // Its step spans went nowhere either; its script was told its trace is not sampled.
        var droppedTrace = File.ReadAllText(Marker(dropped, "traceparent")).Trim().Split('-');
        Assert.Equal("00", droppedTrace[3]);
        Assert.DoesNotContain(_receiver.Spans, s => s.TraceId == droppedTrace[1]);
        Assert.EndsWith("-01", File.ReadAllText(Marker(chosen, "traceparent")).Trim());
        foreach (var id in new[] { chosen, errored, requeued })
        {
            var job = JobSpan(id);
            Assert.Equal(ExecTelemetryTests.StepsInOrder, _receiver.Spans.Where(s => s.ParentSpanId == job.SpanId).OrderBy(s => s.Start).Select(s => s.Name));
        }
        // Metrics count every job, sampled or not.
        Assert.Equal(2, Last("worker.jobs.finished", ("state", "passed"), (TraceAttributes.Backend, "local")));
    }

    private double Last(string metric, params (string Key, string Value)[] attributes) =>
        _receiver.Points.Where(p => p.Name == metric && attributes.All(a => p.Attribute(a.Key) == a.Value))
            .OrderBy(p => p.Time).LastOrDefault()?.Value ?? 0;

    private ulong LastHistogramCount(string metric) =>
        _receiver.Points.Where(p => p.Name == metric).GroupBy(p => string.Join(",", p.Attributes.OrderBy(a => a.Key).Select(a => $"{a.Key}={a.Value}")))
            .Select(g => g.OrderBy(p => p.Time).Last().Count).Aggregate(0UL, (sum, count) => sum + count);
}
