using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;

namespace Worker.Docker.Tests;

/// <summary>
/// Jobs that end early on the real engine, with faults injected on the way to it: whatever ran the
/// job's script must have stopped by the time the job's end is reported, so a requeued job never
/// runs twice at once and a cancelled one does not run on.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerTeardownTests
{
    private const string Sleeper = "script: [\"echo ready\", \"sleep 300\"]";

    [Fact]
    public async Task A_job_requeued_after_its_output_stream_broke_has_its_container_removed_before_the_requeue_is_reported()
    {
        await using var proxy = EngineProxy.Start();
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint },
            DockerHarness.DefaultWorkerOptions with { Requeues = 3 });
        // The job's one attach: the script goes in on it and the output comes back.
        var cut = proxy.CutLater(@"^POST /containers/[0-9a-f]{64}/attach\?");
        var job = new WatchedJob(harness.Enqueue(Sleeper), harness.Fleet);

        var run = harness.Pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);
        await DockerHarness.WaitForLogAsync(job.Inner, "ready\n");
        cut.Release();
        await run;

        Assert.Equal("requeued", await job.Inner.Outcome);
        Assert.True(job.ContainersAtReport.Count == 0,
            $"still there when the requeue was reported, running the script the requeued job runs again elsewhere: {string.Join(", ", job.ContainersAtReport)}");
    }

    [Fact]
    public async Task A_cancel_that_lands_while_the_container_starts_kills_it_before_the_cancel_is_reported()
    {
        await using var proxy = EngineProxy.Start();
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint });
        var start = proxy.DelayAnswer("^POST /containers/[0-9a-f]{64}/start", TimeSpan.FromSeconds(3));
        var job = new WatchedJob(harness.Enqueue("id: 707001\n" + Sleeper), harness.Fleet);

        var run = harness.Pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);
        await start.Seen.Task.WaitAsync(TimeSpan.FromSeconds(60));
        // The engine has started it; its answer is still on the way.
        await Eventually.TrueAsync(async () => (await harness.ContainersAsync()).Any(c => c.State == "running"), "the job's container runs");
        harness.Cancellations.Cancel(707001, "cancelled while its container starts");
        await run;

        Assert.Equal("cancelled", await job.Inner.Outcome);
        Assert.True(job.RunningAtReport.Count == 0, $"still running when the cancel was reported: {string.Join(", ", job.RunningAtReport)}");
    }

    [Fact]
    public async Task A_cancel_that_lands_while_the_script_starts_on_a_standby_kills_it_before_the_cancel_is_reported()
    {
        await using var proxy = EngineProxy.Start();
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint, StandbyCount = 1 });
        await harness.Backend.Standby!.FillAsync(CancellationToken.None);
        var start = proxy.DelayAnswer("^POST /exec/[0-9a-f]{64}/start", TimeSpan.FromSeconds(3));
        var job = new WatchedJob(harness.Enqueue("id: 707002\n" + Sleeper), harness.Fleet);

        var run = harness.Pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);
        await start.Seen.Task.WaitAsync(TimeSpan.FromSeconds(60));
        harness.Cancellations.Cancel(707002, "cancelled while its script starts");
        await run;

        Assert.Equal("cancelled", await job.Inner.Outcome);
        Assert.Contains(job.Inner.Events, e => e.StartsWith("started:", StringComparison.Ordinal));
        Assert.False(job.RunningAtReport.Any(c => c.Contains("worker-job-707002", StringComparison.Ordinal)),
            $"still running when the cancel was reported: {string.Join(", ", job.RunningAtReport)}");
    }

    /// <summary>
    /// A job of the in-memory queue that, when its end is reported, first looks at the engine for the
    /// containers of its fleet: which are there at all, and which are running.
    /// </summary>
    private sealed class WatchedJob(InMemoryJob inner, string fleet) : IJob
    {
        public InMemoryJob Inner => inner;

        public List<string> ContainersAtReport { get; } = [];

        public List<string> RunningAtReport { get; } = [];

        public JobSpec Spec => inner.Spec;

        public bool CanRequeue => inner.CanRequeue;

        public int RequeueCount => inner.RequeueCount;

        public Task ReceivedAsync(CancellationToken ct) => inner.ReceivedAsync(ct);

        public Task StartedAsync(string instanceId, CancellationToken ct) => inner.StartedAsync(instanceId, ct);

        public Task<ILogPartSink> OpenLogAsync(CancellationToken ct) => inner.OpenLogAsync(ct);

        public async Task FinishAsync(FinishState state, string? reason, CancellationToken ct)
        {
            await LookAsync();
            await inner.FinishAsync(state, reason, ct);
        }

        public Task EndedAsync(CancellationToken ct) => inner.EndedAsync(ct);

        public async Task RequeueAsync(string reason, bool counted, CancellationToken ct)
        {
            await LookAsync();
            await inner.RequeueAsync(reason, counted, ct);
        }

        private async Task LookAsync()
        {
            foreach (var c in await DockerEngine.ContainersOfFleetAsync(fleet))
            {
                var name = $"{c.Names[0].TrimStart('/')} ({c.State})";
                ContainersAtReport.Add(name);
                if (c.State == "running")
                {
                    RunningAtReport.Add(name);
                }
            }
        }
    }
}
