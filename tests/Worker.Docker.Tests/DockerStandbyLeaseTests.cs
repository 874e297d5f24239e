using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Commands;
using Worker.Core.Configuration;

namespace Worker.Docker.Tests;

/// <summary>
/// Two workers on one host (same fleet, same WORKER_HOSTNAME, one engine): an idle standby is its
/// worker's while that worker renews its lease; only once the lease has lapsed (the worker is gone)
/// does the other take it over, remove it, or let cleanup delete it. A worker "gone" here is one whose
/// way to the engine (a proxy) was shut: it can no longer renew anything, as after a SIGKILL.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerStandbyLeaseTests
{
    // Renewed every quarter: long enough that a rename slowed by a busy engine still lands before it lapses.
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_second_worker_on_the_same_host_leaves_a_live_workers_idle_standby_alone()
    {
        await using var first = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, StandbyLeaseTime = Lease });
        await first.Backend.Standby!.FillAsync(CancellationToken.None);
        var standby = Assert.Single(first.Backend.Standby.Ready);
        await WaitUntilPastAsync(DateTimeOffset.UtcNow + Lease + TimeSpan.FromSeconds(1)); // the first lease would have lapsed unless renewed

        await using var second = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, StandbyLeaseTime = Lease }, joinFleet: first.Fleet);
        await second.Backend.Standby!.FillAsync(CancellationToken.None);

        Assert.Equal(standby, Assert.Single(first.Backend.Standby.Ready));
        Assert.NotEqual(standby, Assert.Single(second.Backend.Standby.Ready));
        Assert.Equal(2, (await first.ContainersAsync()).Count);
        var (job, _) = await first.RunAsync("script: [\"echo on my own standby\"]");
        Assert.Equal("passed", await job.Outcome);
        Assert.Contains($"started:{standby[..12]}", job.Events);
    }

    [Fact]
    public async Task A_standby_whose_start_outlasts_its_lease_is_not_swept_away_by_its_own_worker()
    {
        await using var proxy = EngineProxy.Start();
        await using var worker = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint, StandbyCount = 1, StandbyLeaseTime = Lease });
        var start = proxy.Hold("/containers/[0-9a-f]+/start");
        var fill = worker.Backend.Standby!.FillAsync(CancellationToken.None);
        await start.Seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The lease in its name lapses while the engine starts it (a busy host), and the upkeep sweeps the host meanwhile.
        await WaitUntilPastAsync(DateTimeOffset.UtcNow + Lease + Lease);
        start.Release();
        await fill;

        var standby = Assert.Single(worker.Backend.Standby.Ready);
        Assert.Equal(standby, Assert.Single(await worker.ContainersAsync()).ID);
    }

    [Fact]
    public async Task A_worker_that_lost_a_claim_never_removes_the_container_the_winner_runs_its_job_in()
    {
        await using var proxy = EngineProxy.Start();
        await using var loser = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint, StandbyCount = 1, StandbyLeaseTime = Lease });
        await loser.Backend.Standby!.FillAsync(CancellationToken.None);
        var standby = Assert.Single(loser.Backend.Standby.Ready);
        // The loser can't renew its lease or start another standby any more (as if stalled), and its claim of the standby hangs on the way to the engine.
        proxy.Refuse("/rename\\?name=worker-standby-");
        proxy.Refuse("/create\\?name=worker-standby-");
        var claim = proxy.Hold("/rename\\?name=worker-job-");
        var loserJob = loser.Enqueue("script: [\"echo loser\"]");
        var loserRun = loser.RunNextAsync();
        await claim.Seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilLeaseLapsedAsync(loser.Fleet, standby);

        await using var winner = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, StandbyLeaseTime = Lease }, joinFleet: loser.Fleet);
        await winner.Backend.Standby!.FillAsync(CancellationToken.None);
        Assert.Equal(standby, Assert.Single(winner.Backend.Standby.Ready));
        var winnerJob = winner.Enqueue("id: 606001\nscript: [\"echo ready\", \"sleep 300\"]");
        var winnerRun = winner.RunNextAsync();
        await DockerHarness.WaitForLogAsync(winnerJob, "ready\n");
        claim.Release();
        var (finishedLoserJob, _) = await loserRun;
        var stillRunning = await RunningAsync(standby);
        winner.Cancellations.Cancel(606001, "seen by the test");
        await winnerRun;

        Assert.True(stillRunning, "the container running the winner's job was removed by the worker that lost the claim");
        Assert.Contains($"started:{standby[..12]}", winnerJob.Events);
        Assert.Equal("cancelled", await winnerJob.Outcome);
        Assert.Equal("passed", await finishedLoserJob.Outcome);
        Assert.DoesNotContain($"started:{standby[..12]}", loserJob.Events);
    }

    [Fact]
    public async Task The_next_worker_on_the_host_takes_over_a_gone_workers_standby_once_its_lease_lapsed()
    {
        await using var successor = await DockerHarness.CreateAsync(o => o with { StandbyCount = 0 });
        var standby = await LeaveStandbyOfGoneWorkerAsync(successor.Fleet, o => o);

        await using var next = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, StandbyLeaseTime = Lease }, joinFleet: successor.Fleet);
        await next.Backend.Standby!.FillAsync(CancellationToken.None);
        var (job, _) = await next.RunAsync("script: [\"echo taken over\"]");

        Assert.Contains($"started:{standby[..12]}", job.Events);
        Assert.Equal("passed", await job.Outcome);
    }

    [Fact]
    public async Task A_gone_workers_standby_taken_over_has_its_cpus_counted_until_its_jobs_container_is_removed()
    {
        await using var successor = await DockerHarness.CreateAsync(o => o with { StandbyCount = 0 });
        var standby = await LeaveStandbyOfGoneWorkerAsync(successor.Fleet, o => o with { CpusToPinWithin = 2 });
        using var client = DockerEngine.Client();
        var pinned = int.Parse((await client.Containers.InspectContainerAsync(standby)).HostConfig!.CpusetCpus, CultureInfo.InvariantCulture);

        await using var next = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, StandbyLeaseTime = Lease, CpusToPinWithin = 2 },
            joinFleet: successor.Fleet);
        await next.Backend.Standby!.FillAsync(CancellationToken.None);
        Assert.Equal(standby, Assert.Single(next.Backend.Standby.Ready));
        var counted = next.Backend.Launcher.PinnedCpuUsers();
        var (job, _) = await next.RunAsync("script: [\"nproc\"]");

        // Counted, a container made meanwhile goes to the other CPU (before, it could land on the same one).
        Assert.NotNull(counted);
        Assert.Equal(1, counted[pinned]);
        Assert.Equal(0, counted[1 - pinned]);
        Assert.Equal("passed", await job.Outcome);
        Assert.Contains($"started:{standby[..12]}", job.Events);
        Assert.Contains("$ nproc\u001b[0m\n1\n", job.Log);
        // Given back with its job's container: what stays pinned is the standby made to replace it.
        await Eventually.TrueAsync(() => next.Backend.Launcher.PinnedCpuUsers()!.Sum() == 1 && next.Backend.Standby.Ready.Count == 1,
            "only the new standby is pinned");
    }

    [Fact]
    public async Task The_upkeep_leaves_a_gone_workers_standby_to_the_first_sweep_however_slow_that_is()
    {
        await using var successor = await DockerHarness.CreateAsync(o => o with { StandbyCount = 0 });
        var standby = await LeaveStandbyOfGoneWorkerAsync(successor.Fleet, o => o);
        await using var proxy = EngineProxy.Start();
        await using var next = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint, StandbyCount = 1, StandbyLeaseTime = Lease },
            joinFleet: successor.Fleet);
        var firstLook = proxy.Hold("/containers/json");
        var fill = next.Backend.Standby!.FillAsync(CancellationToken.None);
        await firstLook.Seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilPastAsync(DateTimeOffset.UtcNow + Lease); // the upkeep's quarter-lease rounds come and go while the first look hangs
        firstLook.Release();
        await fill;

        Assert.Equal(standby, Assert.Single(next.Backend.Standby.Ready));
    }

    [Fact]
    public async Task The_next_worker_removes_a_gone_workers_standby_made_to_other_settings_instead_of_taking_it_over()
    {
        await using var successor = await DockerHarness.CreateAsync(o => o with { StandbyCount = 0 });
        var standby = await LeaveStandbyOfGoneWorkerAsync(successor.Fleet, o => o with { MemoryPerJob = 256L << 20 });

        await using var next = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, StandbyLeaseTime = Lease }, joinFleet: successor.Fleet);
        await next.Backend.Standby!.FillAsync(CancellationToken.None);

        Assert.NotEqual(standby, Assert.Single(next.Backend.Standby.Ready));
        await Eventually.TrueAsync(async () => (await successor.ContainersAsync()).All(c => c.ID != standby), "the gone worker's standby is removed");
    }

    [Fact]
    public async Task Cleanup_deletes_an_idle_standby_once_its_workers_lease_lapsed_and_keeps_a_live_workers()
    {
        await using var live = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, StandbyLeaseTime = Lease });
        await live.Backend.Standby!.FillAsync(CancellationToken.None);
        var kept = Assert.Single(live.Backend.Standby.Ready);
        var gone = await LeaveStandbyOfGoneWorkerAsync(live.Fleet, o => o, host: "another-host"); // no worker on its host to take it over
        var log = new ListLoggerProvider();

        var settings = SettingsSource.From(("WORKER_PROVIDER_NAME", "docker"), ("WORKER_FLEET", live.Fleet), ("WORKER_CLEANUP_DELETE_RATE", "100"));
        Assert.Equal(0, await CleanupCommand.RunAsync(settings, once: true, dryRun: false, LoggerFactory.Create(b => b.AddProvider(log))));

        Assert.Equal(kept, Assert.Single(await live.ContainersAsync()).ID);
        Assert.DoesNotContain(gone, (await live.ContainersAsync()).Select(c => c.ID));
        Assert.Contains(log.Lines, l => l.StartsWith("Deleted docker machine worker-standby-", StringComparison.Ordinal) && l.Contains("deadline", StringComparison.Ordinal));
    }

    /// <summary>
    /// A worker with one standby on <paramref name="fleet"/>'s host that then can't reach the engine any
    /// more (its way there is shut), and so stops renewing: its standby stays, and its lease lapses.
    /// </summary>
    private static async Task<string> LeaveStandbyOfGoneWorkerAsync(string fleet, Func<DockerOptions, DockerOptions> settings, string host = "test-host")
    {
        var proxy = EngineProxy.Start();
        var gone = await DockerHarness.CreateAsync(o => settings(o with { EndpointUri = proxy.Endpoint, StandbyCount = 1, StandbyLeaseTime = Lease }),
            joinFleet: fleet, host: host);
        await gone.Backend.Standby!.FillAsync(CancellationToken.None);
        var standby = Assert.Single(gone.Backend.Standby.Ready);
        await proxy.DisposeAsync();
        await gone.DisposeAsync(); // its removals can't reach the engine any more
        await WaitUntilLeaseLapsedAsync(fleet, standby);
        return standby;
    }

    /// <summary>Until the lease in the standby's name has passed (a name without one has nothing to wait for).</summary>
    private static async Task WaitUntilLeaseLapsedAsync(string fleet, string id)
    {
        var container = Assert.Single(await DockerEngine.ContainersOfFleetAsync(fleet), c => c.ID == id);
        var name = container.Names[0].TrimStart('/');
        if (StandbyLease.TryParse(name, out _, out var until))
        {
            await WaitUntilPastAsync(DateTimeOffset.FromUnixTimeSeconds(until + 1));
        }
    }

    private static Task WaitUntilPastAsync(DateTimeOffset moment) =>
        Eventually.TrueAsync(() => DateTimeOffset.UtcNow > moment, $"it is past {moment.ToString("u", CultureInfo.InvariantCulture)}");

    private static async Task<bool> RunningAsync(string id)
    {
        using var client = DockerEngine.Client();
        try
        {
            return (await client.Containers.InspectContainerAsync(id)).State?.Running == true;
        }
        catch (global::Docker.DotNet.DockerContainerNotFoundException)
        {
            return false;
        }
    }
}
