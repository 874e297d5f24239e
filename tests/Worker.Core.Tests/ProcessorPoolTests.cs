using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;

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
    public async Task A_pool_drained_before_it_runs_takes_no_job()
    {
        // worker run's start hook runs before the pool does; a SIGTERM then drains a pool not yet running.
        var harness = PipelineHarness.WithFake(new FakeOptions());
        var job = harness.Enqueue("script: [\"true\"]");
        var pool = NewPool(harness, 2);

        await pool.DrainAsync(TimeSpan.FromSeconds(5));
        await pool.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(200);

        Assert.Empty(pool.Statuses);
        Assert.Empty(job.Events);
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

    [Fact]
    public async Task A_setting_the_queue_finds_unusable_stops_every_processor_and_the_pool_throws_it()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions());
        var queue = new QueueRefusingASetting();
        var pool = new ProcessorPool(queue, harness.Pipeline, 3, NullLogger<ProcessorPool>.Instance);

        var error = await Assert.ThrowsAsync<InvalidSettingException>(() => pool.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal("WORKER_SOME_SETTING", error.Variable);
        Assert.Empty(pool.Statuses);
        Assert.Equal(1, queue.Receives); // the others were stopped, not left retrying
    }

    /// <summary>A queue that finds a setting unusable once it talks to its server, as a broker without a plugin makes it.</summary>
    private sealed class QueueRefusingASetting : IJobQueue
    {
        private readonly SemaphoreSlim _first = new(1, 1);
        private int _receives;

        public int Receives => _receives;
        public string Name => "refusing";
        public bool IsConnected => false;

        public async IAsyncEnumerable<IJob> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
        {
            // One processor gets the refusal; the others wait, as they do behind the AMQP queue's start gate.
            await _first.WaitAsync(ct);
            Interlocked.Increment(ref _receives);
            throw new InvalidSettingException("WORKER_SOME_SETTING", "on", "the server can't have it");
#pragma warning disable CS0162 // an async iterator needs a yield
            yield break;
#pragma warning restore CS0162
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
