using System.Diagnostics;
using Worker.Core.Telemetry;

namespace Worker.Docker.Tests;

/// <summary>Each Docker Engine API call a job makes is a span under the step it serves; a refused one is counted by kind.</summary>
[Trait("Category", "Integration")]
public sealed class DockerTelemetryTests : IDisposable
{
    private readonly SpanRecorder _spans = new();
    private readonly MetricRecorder _metrics = new();

    public void Dispose()
    {
        _spans.Dispose();
        _metrics.Dispose();
    }

    private IReadOnlyList<string> CallsUnder(Activity job, string step) =>
        [.. _spans.Below(_spans.ChildrenOf(job).Single(s => s.OperationName == step)).OrderBy(s => s.StartTimeUtc).Select(s => s.OperationName)];

    [Fact]
    public async Task A_jobs_Docker_API_calls_are_spans_under_the_steps_they_serve()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var (job, _) = await harness.RunAsync("script: [\"echo traced\"]");
        Assert.Equal("passed", await job.Outcome);

        var span = _spans.Job(job.Payload.JobId);
        Assert.Contains("docker POST /containers/create", CallsUnder(span, "start machine"));
        // The script travels on the container's stdin: attached once, for input and output, then started.
        Assert.Equal(["docker POST /containers/{id}/attach", "docker POST /containers/{id}/start"],
            CallsUnder(span, "upload script").Where(c => c.EndsWith("/attach", StringComparison.Ordinal) || c.EndsWith("/start", StringComparison.Ordinal)));
        Assert.DoesNotContain(_spans.Below(span), s => s.OperationName.EndsWith("/archive", StringComparison.Ordinal));
        // The removal starts as the script ends, so its call is made in the run; the teardown waits for it.
        Assert.Contains("docker DELETE /containers/{id}", CallsUnder(span, "run script"));
        var create = _spans.Below(span).First(s => s.OperationName == "docker POST /containers/create");
        Assert.Equal((ActivityKind.Client, "docker", 201), (create.Kind, SpanRecorder.Tag(create, TraceAttributes.Backend), (int?)create.GetTagItem(TraceAttributes.HttpStatus)));
        Assert.DoesNotContain(_spans.Below(span), s => s.Status == ActivityStatusCode.Error);
    }

    [Fact]
    public async Task A_call_the_engine_refuses_marks_its_span_and_is_counted_by_backend_and_kind()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var missing = "worker-no-such-image-" + Guid.NewGuid().ToString("N")[..8] + ":none";
        var (job, _) = await harness.RunAsync($"image: {missing}\nscript: [\"true\"]");
        Assert.Equal("errored", await job.Outcome);

        var refused = Assert.Single(_spans.Below(_spans.Job(job.Payload.JobId)), s => s.Kind == ActivityKind.Client && s.Status == ActivityStatusCode.Error);
        Assert.Equal("http_404", SpanRecorder.Tag(refused, TraceAttributes.ErrorType));
        Assert.StartsWith("docker ", refused.OperationName);
        Assert.True(_metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, "docker"), ("kind", "http_404")) >= 1);
    }

    [Fact]
    public async Task Jobs_that_take_a_standby_or_need_a_fresh_container_are_counted_as_hits_and_misses()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1 });
        await harness.Backend.Standby!.FillAsync(CancellationToken.None);
        var before = (Hits: Claims("hit"), Misses: Claims("miss"));

        var (onStandby, _) = await harness.RunAsync("script: [\"true\"]");
        var (otherLimits, _) = await harness.RunAsync("cpus: 0.5\nscript: [\"true\"]");

        Assert.Equal(("passed", "passed"), (await onStandby.Outcome, await otherLimits.Outcome));
        Assert.True(Claims("hit") >= before.Hits + 1 && Claims("miss") >= before.Misses + 1, "a hit and a miss were counted");
        Assert.Contains(_spans.Below(_spans.Job(onStandby.Payload.JobId)), s => s.OperationName == "docker POST /containers/{id}/rename");
    }

    private double Claims(string result) => _metrics.Sum("worker.standby.claims", (TraceAttributes.Backend, "docker"), ("result", result));
}
