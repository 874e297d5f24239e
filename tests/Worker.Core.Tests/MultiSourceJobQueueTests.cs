using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends.Fake;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;

namespace Worker.Core.Tests;

/// <summary>travis-worker's comma list of job sources: one processor listens to all, holds nothing while busy, loses nothing.</summary>
public sealed class MultiSourceJobQueueTests
{
    private readonly InMemoryJobQueue _a = new();
    private readonly InMemoryJobQueue _b = new();

    private MultiSourceJobQueue Both(params IJobQueue[] sources) =>
        new(sources.Length == 0 ? [_a, _b] : sources, NullLogger.Instance) { RetryPause = TimeSpan.FromMilliseconds(100) };

    /// <summary>Every source listens at once: two jobs ready come at the same moment.</summary>
    private MultiSourceJobQueue BothWithoutTurns() =>
        new([_a, _b], NullLogger.Instance) { RetryPause = TimeSpan.FromMilliseconds(100), FirstTurn = TimeSpan.Zero };

    private static int _lastId;

    // Ids of their own: two jobs made in the same millisecond may draw the same generated one.
    private static string JobYaml() => $"id: {Interlocked.Increment(ref _lastId)}\nscript: [\"true\"]";

    private static InMemoryJob Job(InMemoryJobQueue queue) => queue.Enqueue(JobFile.Parse(JobYaml(), "test"));

    [Fact]
    public async Task A_job_from_either_source_reaches_the_waiting_processor()
    {
        await using var jobs = Both().ReceiveAsync(CancellationToken.None).GetAsyncEnumerator();
        var waiting = jobs.MoveNextAsync().AsTask();
        await Task.Delay(50);
        var fromB = Job(_b);

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(fromB, jobs.Current);
        await ((InMemoryJob)jobs.Current).FinishAsync(FinishState.Passed, null, CancellationToken.None);
        var fromA = Job(_a);
        Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(fromA, jobs.Current);
    }

    [Fact]
    public async Task While_a_job_runs_no_other_source_hands_one_out()
    {
        await using var jobs = Both().ReceiveAsync(CancellationToken.None).GetAsyncEnumerator();
        var first = Job(_a);
        Assert.True(await jobs.MoveNextAsync());
        Assert.Same(first, jobs.Current);

        var waitingInB = Job(_b);
        await Task.Delay(200);

        Assert.Empty(_b.Delivered); // another worker could still take it
        await first.FinishAsync(FinishState.Passed, null, CancellationToken.None);
        Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(waitingInB, jobs.Current);
    }

    [Fact]
    public async Task With_jobs_ready_in_both_the_sources_take_turns_and_none_is_asked_for_a_job_that_goes_back()
    {
        for (var i = 0; i < 3; i++)
        {
            Job(_a);
            Job(_b);
        }
        var taken = new List<string>();
        await using (var jobs = Both().ReceiveAsync(CancellationToken.None).GetAsyncEnumerator())
        {
            for (var i = 0; i < 6; i++)
            {
                Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
                var job = (InMemoryJob)jobs.Current;
                taken.Add(_a.Delivered.Contains(job) ? "a" : "b");
                await job.FinishAsync(FinishState.Passed, null, CancellationToken.None);
            }
        }

        Assert.Equal(["a", "b", "a", "b", "a", "b"], taken);
        // A job-board job given back would go round through travis-hub: the other source was never asked.
        Assert.DoesNotContain(_a.Delivered.Concat(_b.Delivered), j => j.Events.Contains("requeued-uncounted"));
        Assert.Equal(6, _a.Delivered.Count + _b.Delivered.Count);
    }

    [Fact]
    public async Task The_source_whose_turn_it_is_waits_alone_only_a_moment_before_the_others_join()
    {
        var queue = Both();
        await using var jobs = queue.ReceiveAsync(CancellationToken.None).GetAsyncEnumerator();
        var fromB = Job(_b); // a's turn, and a has none

        var waited = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));

        Assert.Same(fromB, jobs.Current);
        Assert.True(waited.Elapsed >= queue.FirstTurn - TimeSpan.FromMilliseconds(20), $"b joined after {waited.Elapsed}");
    }

    [Fact]
    public async Task An_idle_source_whose_turn_found_nothing_sits_out_the_next_turns_so_a_busy_sources_jobs_do_not_wait_for_it()
    {
        var idle = new CountingQueue(_a);
        for (var i = 0; i < 5; i++)
        {
            Job(_b);
        }
        var queue = new MultiSourceJobQueue([idle, _b], NullLogger.Instance) { EmptyTurnRest = TimeSpan.FromMinutes(1) };

        await using (var jobs = queue.ReceiveAsync(CancellationToken.None).GetAsyncEnumerator())
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
                Assert.Contains((InMemoryJob)jobs.Current, _b.Delivered);
                await ((InMemoryJob)jobs.Current).FinishAsync(FinishState.Passed, null, CancellationToken.None);
            }
        }

        // Its turn came first and found nothing; from then on b went first and had a job each time.
        Assert.Equal(1, idle.Subscriptions);
    }

    [Fact]
    public async Task A_source_is_connected_when_a_processor_first_waits_before_its_turn_comes()
    {
        var later = new CountingQueue(_b);
        Job(_a);
        var queue = new MultiSourceJobQueue([_a, later], NullLogger.Instance);

        await using var jobs = queue.ReceiveAsync(CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));

        // a's turn came first and had a job: b was not listened to, and is connected all the same
        // (readiness asks every source, and a broker's cancel commands need its connection).
        Assert.Equal(0, later.Subscriptions);
        Assert.Equal(1, later.Connects);
    }

    [Fact]
    public async Task Two_jobs_at_once_one_runs_and_the_other_goes_back_uncounted_and_the_sources_take_turns()
    {
        for (var i = 0; i < 3; i++)
        {
            Job(_a);
            Job(_b);
        }
        var taken = new List<(string Source, InMemoryJob Job)>();
        await using (var jobs = BothWithoutTurns().ReceiveAsync(CancellationToken.None).GetAsyncEnumerator())
        {
            for (var i = 0; i < 6; i++)
            {
                Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
                var job = (InMemoryJob)jobs.Current;
                taken.Add((_a.Delivered.Contains(job) ? "a" : "b", job));
                await job.FinishAsync(FinishState.Passed, null, CancellationToken.None);
            }
        }

        Assert.Equal(["a", "b", "a", "b", "a", "b"], taken.Select(t => t.Source));
        var givenBack = _a.Delivered.Concat(_b.Delivered).Where(j => j.Events.Contains("requeued-uncounted")).ToList();
        Assert.NotEmpty(givenBack);
        Assert.All(givenBack, j => Assert.Equal(0, j.Requeued!.RequeueCount));
        Assert.Equal(6, taken.Select(t => t.Job.Payload.JobId).Distinct().Count());
    }

    [Fact]
    public async Task A_source_that_fails_is_subscribed_again_and_the_other_keeps_serving()
    {
        var failing = new FailingOnceQueue(_b);
        await using var jobs = Both(_a, failing).ReceiveAsync(CancellationToken.None).GetAsyncEnumerator();
        var fromA = Job(_a);
        Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(fromA, jobs.Current);
        await fromA.FinishAsync(FinishState.Passed, null, CancellationToken.None);

        var fromB = Job(_b);
        Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(fromB, jobs.Current);
        Assert.Equal(2, failing.Subscriptions);
    }

    [Fact]
    public async Task A_source_that_ended_gives_its_turn_alone_to_the_next_so_no_job_is_asked_for_and_given_back()
    {
        var ended = new InMemoryJobQueue();
        ended.Complete();
        for (var i = 0; i < 2; i++)
        {
            Job(_a);
            Job(_b);
        }
        var taken = new List<string>();
        await using (var jobs = Both(ended, _a, _b).ReceiveAsync(CancellationToken.None).GetAsyncEnumerator())
        {
            for (var i = 0; i < 4; i++)
            {
                Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
                var job = (InMemoryJob)jobs.Current;
                taken.Add(_a.Delivered.Contains(job) ? "a" : "b");
                await job.FinishAsync(FinishState.Passed, null, CancellationToken.None);
            }
        }

        // The turns go on past the ended source.
        Assert.Equal(["a", "b", "a", "b"], taken);
        Assert.DoesNotContain(_a.Delivered.Concat(_b.Delivered), j => j.Events.Contains("requeued-uncounted"));
        Assert.Equal(4, _a.Delivered.Count + _b.Delivered.Count);
    }

    [Fact]
    public async Task It_ends_when_every_source_has_ended()
    {
        await using var jobs = Both().ReceiveAsync(CancellationToken.None).GetAsyncEnumerator();
        _a.Complete();
        var fromB = Job(_b);
        Assert.True(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(fromB, jobs.Current);
        _b.Complete();

        Assert.False(await jobs.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_pool_on_two_sources_runs_every_job_once()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Run = TimeSpan.FromMilliseconds(20) });
        var queue = Both(harness.Queue, _b);
        var jobs = Enumerable.Range(0, 20).SelectMany(_ => new[] { harness.Enqueue(JobYaml()), Job(_b) }).ToList();
        var pool = new ProcessorPool(queue, harness.Pipeline, 3, NullLogger<ProcessorPool>.Instance);
        var run = pool.RunAsync(CancellationToken.None);

        var outcomes = await Task.WhenAll(jobs.Select(FinalOutcomeAsync)).WaitAsync(TimeSpan.FromMinutes(1));
        await pool.DrainAsync(TimeSpan.FromSeconds(5));
        await run;

        Assert.All(outcomes, o => Assert.Equal("passed", o));
        var ran = harness.Queue.Delivered.Concat(_b.Delivered).Where(j => j.Events.Any(e => e.StartsWith("started", StringComparison.Ordinal)));
        Assert.Equal(40, ran.Select(j => j.Payload.JobId).Distinct().Count());
        Assert.Equal(40, ran.Count());
    }

    /// <summary>Follows a job through the copies a give-back makes to how it ended.</summary>
    private static async Task<string> FinalOutcomeAsync(InMemoryJob job)
    {
        while (true)
        {
            var outcome = await job.Outcome;
            if (outcome != "requeued")
            {
                return outcome;
            }
            job = job.Requeued!;
        }
    }

    /// <summary>A source that counts how often it was connected and listened to.</summary>
    private sealed class CountingQueue(InMemoryJobQueue inner) : IJobQueue
    {
        public int Subscriptions;
        public int Connects;

        public Task ConnectAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref Connects);
            return Task.CompletedTask;
        }

        public string Name => "counting";
        public bool IsConnected => true;

        public IAsyncEnumerable<IJob> ReceiveAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref Subscriptions);
            return inner.ReceiveAsync(ct);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A source whose first subscription fails, as a broker connection that drops does.</summary>
    private sealed class FailingOnceQueue(InMemoryJobQueue inner) : IJobQueue
    {
        public int Subscriptions;

        public string Name => "failing-once";
        public bool IsConnected => true;

        public async IAsyncEnumerable<IJob> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
        {
            if (Interlocked.Increment(ref Subscriptions) == 1)
            {
                await Task.Yield();
                throw new InvalidOperationException("the connection dropped");
            }
            await foreach (var job in inner.ReceiveAsync(ct))
            {
                yield return job;
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
