using Microsoft.Extensions.Time.Testing;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Jobs;
using Worker.Core.Logs;
using Worker.Core.Pipeline;
using Worker.TestSupport;

namespace Worker.Core.Tests;

/// <summary>When the machine goes, relative to what the job's owner is told.</summary>
public sealed class JobPipelineTeardownTests
{
    [Fact]
    public async Task The_result_and_the_final_log_part_are_reported_before_the_machine_is_torn_down()
    {
        var backend = new StopRecordingBackend(new FakeBackend(new FakeOptions { Output = "hi\n" }));
        var harness = new PipelineHarness(backend);
        var job = harness.Enqueue("script: [\"echo hi\"]");
        backend.Observe = () => (job.Events.ToList(), job.Parts.Any(p => p.Final));

        await harness.RunNextAsync();

        var (events, finalPartSent) = Assert.Single(backend.SeenAtStop);
        Assert.Equal("finished:passed", events[^1]);
        Assert.True(finalPartSent);
        Assert.Empty(backend.Inner.Live);
    }

    [Fact]
    public async Task A_requeued_job_goes_back_on_the_queue_only_once_its_machine_is_stopped()
    {
        // Back on the queue, it may run elsewhere at once: nothing of this run may still run its script then.
        var backend = new StopRecordingBackend(new FakeBackend(new FakeOptions { EndIncomplete = true }));
        var harness = new PipelineHarness(backend);
        var job = harness.Enqueue("script: [\"echo hi\"]");
        backend.Observe = () => (job.Events.ToList(), job.Parts.Any(p => p.Final));

        await harness.RunNextAsync();

        var (events, finalPartSent) = Assert.Single(backend.SeenAtStop);
        Assert.DoesNotContain(events, e => e.StartsWith("requeued", StringComparison.Ordinal));
        Assert.True(finalPartSent);
        Assert.Equal("requeued", await job.Outcome);
    }

    [Fact]
    public async Task A_teardown_whose_steps_all_hang_ends_after_one_teardown_timeout_not_three()
    {
        var clock = new FakeTimeProvider();
        var budget = TimeSpan.FromHours(1); // the real clock never gets there while the test runs
        var backend = new StopRecordingBackend(new FakeBackend(new FakeOptions())) { HangOnStop = true };
        var harness = new PipelineHarness(backend, PipelineHarness.TestOptions with { Teardown = budget }, clock: clock);
        var job = new ScriptedJob(JobFile.Parse("script: [\"true\"]", "test")) { Hang = true };
        var status = new ProcessorStatus("test");

        var run = harness.Pipeline.RunAsync(job, status, CancellationToken.None);
        await Eventually.TrueAsync(() => job.Events.Contains("final log part attempted"), "the teardown reached the hanging log");
        Assert.False(run.IsCompleted);

        // Just short of the budget: still waiting; once the budget has passed, the whole teardown is over.
        clock.Advance(budget - TimeSpan.FromSeconds(1));
        Assert.False(run.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => run.IsCompleted, "the teardown gave up on every hanging step");

        Assert.Equal(FinishState.Passed, (await run).State);
        Assert.Contains("finish attempted", job.Events); // reached, within the same budget
        Assert.Single(backend.SeenAtStop);                // likewise
    }

    /// <summary>Wraps a backend and notes what the job's owner had been told when each machine was stopped.</summary>
    private sealed class StopRecordingBackend(FakeBackend inner) : IBackend
    {
        public FakeBackend Inner => inner;
        public Func<(List<string> Events, bool FinalPartSent)> Observe { get; set; } = () => ([], false);
        public bool HangOnStop { get; init; }
        public List<(List<string> Events, bool FinalPartSent)> SeenAtStop { get; } = [];
        public string Name => inner.Name;
        public string ProbeDescription => inner.ProbeDescription;

        public Task ProbeAsync(CancellationToken ct) => inner.ProbeAsync(ct);

        public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct) =>
            new Recording(this, await inner.StartAsync(attributes, progress, ct));

        public ValueTask DisposeAsync() => inner.DisposeAsync();

        private sealed class Recording(StopRecordingBackend backend, IInstance instance) : IInstance
        {
            public string Id => instance.Id;
            public string ImageName => instance.ImageName;
            public Task UploadScriptAsync(string script, CancellationToken ct) => instance.UploadScriptAsync(script, ct);
            public Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct) => instance.RunScriptAsync(log, ct);

            public Task StopAsync(CancellationToken ct)
            {
                backend.SeenAtStop.Add(backend.Observe());
                return backend.HangOnStop ? new TaskCompletionSource().Task : instance.StopAsync(ct);
            }

            public ValueTask DisposeAsync() => instance.DisposeAsync();
        }
    }
}
