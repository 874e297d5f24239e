using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.TestSupport;

namespace Worker.Core.Tests;

/// <summary>A host whose backend is down stops taking jobs, probes it, and takes jobs again when it answers.</summary>
public sealed class HostCircuitBreakerTests
{
    private const string Job = "script: [\"true\"]";

    private static readonly HostBreakerOptions Breaker = new()
    {
        Threshold = 3,
        ProbeInterval = TimeSpan.FromMilliseconds(50),
        ProbeMaxInterval = TimeSpan.FromMilliseconds(200),
        UnhealthyAfter = TimeSpan.FromMinutes(10),
    };

    private static (PipelineHarness Harness, FakeBackend Backend, ProcessorPool Pool) Host(HostBreakerOptions? breaker = null, int size = 1)
    {
        var backend = new FakeBackend(new FakeOptions { HostDown = true });
        var harness = new PipelineHarness(backend, breaker: breaker ?? Breaker);
        return (harness, backend, new ProcessorPool(harness.Queue, harness.Pipeline, size, NullLogger<ProcessorPool>.Instance));
    }

    [Fact]
    public async Task After_the_threshold_of_host_failures_the_host_takes_no_more_jobs_and_none_is_counted()
    {
        var (harness, backend, pool) = Host(size: 2);
        var jobs = Enumerable.Range(0, 6).Select(_ => harness.Enqueue(Job)).ToList();

        var run = pool.RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => harness.Breaker!.State == BreakerState.Open, "the breaker opened");
        // Three failed probes later, a host that still took jobs would have taken them all by now.
        await Eventually.TrueAsync(() => backend.Probes >= 3, "the backend was probed three times");
        var delivered = harness.Queue.Delivered.Count;

        Assert.InRange(delivered, 3, 4); // the threshold, and at most one more a second processor held already
        Assert.All(harness.Queue.Delivered, job => Assert.Contains("requeued-uncounted", job.Events));
        Assert.All(pool.Statuses, s => Assert.Equal(JobSteps.Paused, s.Step));
        Assert.Contains("the fake backend is down", harness.Breaker!.Reason);
        Assert.Contains("a look at the fake backend's switch", harness.Breaker.Reason);
        Assert.False(harness.Breaker.Unhealthy);
        Assert.DoesNotContain(jobs, j => j.Outcome.IsCompleted && j.Outcome.Result != "requeued");
        pool.StopNow();
        await run;
    }

    [Fact]
    public async Task When_a_probe_succeeds_the_host_takes_jobs_again_and_a_job_that_runs_closes_the_breaker()
    {
        var (harness, backend, pool) = Host();
        for (var i = 0; i < 5; i++)
        {
            harness.Enqueue(Job);
        }
        var run = pool.RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => harness.Breaker!.State == BreakerState.Open, "the breaker opened");

        backend.Down = false;

        await Eventually.TrueAsync(() => harness.Queue.Delivered.Count(j => j.Outcome.IsCompleted && j.Outcome.Result == "passed") == 5,
            "all five jobs passed", explain: () => string.Join("\n", harness.Queue.Delivered.Select(j => string.Join(",", j.Events))));
        Assert.Equal(BreakerState.Closed, harness.Breaker!.State);
        Assert.Null(harness.Breaker.BrokenSince);
        Assert.Null(harness.Breaker.Reason);
        pool.StopNow();
        await run;
    }

    [Fact]
    public async Task After_a_successful_probe_one_host_failure_stops_intake_again_and_the_host_stays_broken_since_the_first_time()
    {
        // The probe sees what it checks while jobs still fail (a ping that passes in front of a full disk).
        var backend = new PassingProbe(new FakeBackend(new FakeOptions { HostDown = true }));
        var harness = new PipelineHarness(backend, breaker: Breaker);
        var pool = new ProcessorPool(harness.Queue, harness.Pipeline, 1, NullLogger<ProcessorPool>.Instance);
        for (var i = 0; i < 3; i++)
        {
            harness.Enqueue(Job);
        }
        var run = pool.RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => harness.Breaker!.State == BreakerState.Open, "the breaker opened");
        var brokenSince = harness.Breaker!.BrokenSince;

        await Eventually.TrueAsync(() => backend.Probes >= 4, "four probes passed");
        var delivered = harness.Queue.Delivered.Count;

        Assert.InRange(delivered, 4, 3 + backend.Probes); // one failing job per passing probe, not another three
        Assert.Equal(brokenSince, harness.Breaker.BrokenSince);
        pool.StopNow();
        await run;
    }

    [Fact]
    public async Task Host_failures_separated_by_a_job_that_ran_do_not_add_up()
    {
        var backend = new FakeBackend(new FakeOptions());
        var harness = new PipelineHarness(backend, breaker: Breaker);
        foreach (var down in new[] { true, true, false, true, true })
        {
            backend.Down = down;
            await harness.RunAsync(Job);
        }

        Assert.Equal(BreakerState.Closed, harness.Breaker!.State);
        Assert.True(harness.Breaker.TakingJobs);
    }

    [Fact]
    public async Task A_host_broken_for_longer_than_its_unhealthy_limit_is_unhealthy_and_healthy_again_once_a_probe_succeeds()
    {
        var (harness, backend, pool) = Host(Breaker with { Threshold = 1, UnhealthyAfter = TimeSpan.FromMilliseconds(300) });
        harness.Enqueue(Job);
        var run = pool.RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => harness.Breaker!.State == BreakerState.Open, "the breaker opened");

        await Eventually.TrueAsync(() => harness.Breaker!.Unhealthy, "the host counts as unhealthy");
        backend.Down = false;

        await Eventually.TrueAsync(() => !harness.Breaker!.Unhealthy && harness.Breaker.TakingJobs, "the host is healthy and takes jobs again");
        pool.StopNow();
        await run;
    }

    [Fact]
    public async Task A_host_whose_probe_passes_while_its_trials_fail_is_unhealthy_after_its_limit_even_on_trial()
    {
        var backend = new PassingProbe(new FakeBackend(new FakeOptions { HostDown = true }));
        await using var breaker = new HostCircuitBreaker(backend, Breaker with { Threshold = 1, UnhealthyAfter = TimeSpan.FromMilliseconds(300) },
            NullLogger<HostCircuitBreaker>.Instance);
        breaker.Record(HostSignal.Broken, "the fake backend is down");
        await Eventually.TrueAsync(() => breaker.State == BreakerState.Trial, "the probe passed");
        breaker.Record(HostSignal.Broken, "the fake backend is down"); // the trial's job failed too
        await Eventually.TrueAsync(() => breaker.State == BreakerState.Trial, "the probe passed again and the host is on trial");

        await Eventually.TrueAsync(() => breaker.Unhealthy, "the host on trial counts as unhealthy once broken for its limit");

        Assert.Equal(BreakerState.Trial, breaker.State);
        Assert.Contains("the fake backend is down", breaker.UnhealthyReason);
        Assert.Contains("a probe that always passes succeeds, but the jobs tried since failed", breaker.UnhealthyReason);
    }

    [Fact]
    public async Task A_host_on_trial_whose_trial_has_not_failed_is_not_unhealthy()
    {
        var backend = new FakeBackend(new FakeOptions { HostDown = true });
        await using var breaker = new HostCircuitBreaker(backend, Breaker with { Threshold = 1, UnhealthyAfter = TimeSpan.FromMilliseconds(200) },
            NullLogger<HostCircuitBreaker>.Instance);
        breaker.Record(HostSignal.Broken, "the fake backend is down");
        await Eventually.TrueAsync(() => breaker.Unhealthy, "the host counts as unhealthy while its probes fail");

        backend.Down = false;

        await Eventually.TrueAsync(() => breaker.State == BreakerState.Trial, "the probe passed and the host is on trial");
        Assert.False(breaker.Unhealthy);
    }

    /// <summary>A backend whose starts fail as host failures while its probe passes.</summary>
    private sealed class PassingProbe(FakeBackend inner) : Worker.Core.Backends.IBackend
    {
        private int _probes;

        public int Probes => Volatile.Read(ref _probes);
        public string Name => inner.Name;
        public string ProbeDescription => "a probe that always passes";

        public Task ProbeAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref _probes);
            return Task.CompletedTask;
        }

        public Task<Worker.Core.Backends.IInstance> StartAsync(Worker.Core.Backends.StartAttributes attributes, IProgress<string> progress, CancellationToken ct) =>
            inner.StartAsync(attributes, progress, ct);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
