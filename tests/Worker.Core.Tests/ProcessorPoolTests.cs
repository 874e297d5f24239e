using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends.Fake;
using Worker.Core.Pipeline;

namespace Worker.Core.Tests;

public sealed class ProcessorPoolTests
{
    private static ProcessorPool NewPool(PipelineHarness harness, int size) =>
        new(harness.Queue, harness.Pipeline, size, NullLogger<ProcessorPool>.Instance);

    [Fact]
    public async Task Pool_runs_as_many_jobs_at_once_as_its_size()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Run = TimeSpan.FromMilliseconds(500) });
        var jobs = Enumerable.Range(0, 6).Select(_ => harness.Enqueue("script: [\"true\"]")).ToList();
        var pool = NewPool(harness, 3);
        var run = pool.RunAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => pool.Statuses.Count(s => s.JobId is not null) == 3, "three jobs run");
        Assert.Equal(3, pool.Statuses.Count);
        await Task.WhenAll(jobs.Select(j => j.Outcome));
        await pool.DrainAsync(TimeSpan.FromSeconds(5));
        await run;
        Assert.All(jobs, j => Assert.Equal("passed", j.Outcome.Result));
    }

    [Fact]
    public async Task Drain_lets_running_jobs_finish_and_takes_no_new_ones()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Run = TimeSpan.FromMilliseconds(800) });
        var first = harness.Enqueue("script: [\"true\"]");
        var pool = NewPool(harness, 1);
        var run = pool.RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => first.Events.Any(e => e.StartsWith("started", StringComparison.Ordinal)), "the first job started");
        var second = harness.Enqueue("script: [\"true\"]");

        await pool.DrainAsync(TimeSpan.FromSeconds(10));
        await run;
        Assert.Equal("passed", await first.Outcome);
        Assert.False(second.Outcome.IsCompleted);
        Assert.Empty(second.Events);
    }

    [Fact]
    public async Task Drain_timeout_requeues_jobs_that_are_still_running()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Run = TimeSpan.FromMinutes(5) });
        var job = harness.Enqueue("script: [\"true\"]");
        var pool = NewPool(harness, 1);
        var run = pool.RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => job.Events.Any(e => e.StartsWith("started", StringComparison.Ordinal)), "the job started");

        await pool.DrainAsync(TimeSpan.FromMilliseconds(300));
        await run;
        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.Empty(((FakeBackend)harness.Backend).Live);
    }

    [Fact]
    public async Task Pool_grows_and_shrinks_while_running()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions());
        var pool = NewPool(harness, 1);
        var run = pool.RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => pool.Statuses.Count == 1, "1 processor(s) run");

        pool.SetSize(4);
        await Eventually.TrueAsync(() => pool.Statuses.Count == 4, "4 processor(s) run");
        pool.SetSize(2);
        await Eventually.TrueAsync(() => pool.Statuses.Count == 2, "2 processor(s) run");
        pool.SetSize(0);
        await Eventually.TrueAsync(() => pool.Statuses.Count == 0, "0 processor(s) run");
        Assert.False(run.IsCompleted);

        var job = harness.Enqueue("script: [\"true\"]");
        pool.SetSize(1);
        Assert.Equal("passed", await job.Outcome);
        pool.StopNow();
        await run;
    }
}
