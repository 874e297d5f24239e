using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Commands;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary><c>worker cleanup</c> on the fake GCE project, with a mix of machines only some of which are orphans.</summary>
public sealed class GceCleanupTests() : FakeGceTest(bootVms: false)
{
    private static readonly string[] Orphans = ["expired-job", "host-gone-job", "stopped-job"];
    private static readonly string[] Survivors =
        ["live-job", "no-deadline-job", "off-gce-host-job", "other-fleet-job", "worker-host-1", "worker-job-1-deadbeef"];

    private readonly ListLoggerProvider _log = new();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var future = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var past = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var fake = Fake;
        fake.Seed("worker-host-1", "us-central1-b", "RUNNING"); // the worker host itself: no fleet label
        fake.Seed("live-job", "us-central1-a", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-1", future));
        fake.Seed("expired-job", "us-central1-a", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-1", past));
        fake.Seed("stopped-job", "us-central1-f", "TERMINATED", Labels(GceTestBed.Fleet, "worker-host-1", future));
        fake.Seed("host-gone-job", "us-central1-b", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-9", future));
        // Its worker runs outside GCE (no host machine label), so its host not being an instance says nothing.
        var offGce = Labels(GceTestBed.Fleet, "worker-host-9", future);
        offGce.Remove(MachineLabels.HostMachine);
        fake.Seed("off-gce-host-job", "us-central1-a", "RUNNING", offGce);
        fake.Seed("no-deadline-job", "us-central1-a", "RUNNING", new Dictionary<string, string>
        {
            [MachineLabels.Fleet] = GceTestBed.Fleet, [MachineLabels.Host] = "worker-host-1",
        });
        fake.Seed("other-fleet-job", "us-central1-a", "TERMINATED", Labels("other-fleet", "worker-host-9", past));
        // Named like a job VM, but without labels: a name alone never decides.
        fake.Seed("worker-job-1-deadbeef", "us-central1-a", "TERMINATED");
    }

    private Task<int> CleanupAsync(bool dryRun = false, params (string Key, string Value)[] overrides)
    {
        var loggers = LoggerFactory.Create(b => b.AddProvider(_log).SetMinimumLevel(LogLevel.Information));
        return CleanupCommand.RunAsync(Bed.Settings([("CLEANUP_DELETE_RATE", "100"), .. overrides]), once: true, dryRun, loggers);
    }

    [Fact]
    public async Task Only_stopped_expired_and_host_gone_machines_of_this_fleet_are_deleted()
    {
        var exitCode = await CleanupAsync();

        Assert.Equal(0, exitCode);
        Assert.Equal(Survivors, Fake.InstanceNames.Order(StringComparer.Ordinal));
        Assert.Equal(3, Fake.Count(FakeCall.DeleteInstance));
        Assert.Contains(_log.Lines, l => l.Contains("Deleted gce machine expired-job", StringComparison.Ordinal) && l.Contains("deadline", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Contains("Deleted gce machine stopped-job", StringComparison.Ordinal) && l.Contains("stopped", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Contains("Deleted gce machine host-gone-job", StringComparison.Ordinal) && l.Contains("worker-host-9", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Contains("Keeping gce machine live-job", StringComparison.Ordinal) && l.Contains("may still be running", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Contains("Keeping gce machine no-deadline-job", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_job_VM_whose_hosts_name_lives_only_in_another_zone_is_deleted()
    {
        var future = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        // worker-host-1 runs in us-central1-b; a host of the same name in us-central1-a is gone.
        Fake.Seed("zone-live-job", "us-central1-a", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-1", future, FakeComputeApi.Project, "us-central1-b"));
        Fake.Seed("zone-gone-job", "us-central1-a", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-1", future, FakeComputeApi.Project, "us-central1-a"));

        Assert.Equal(0, await CleanupAsync());

        Assert.Contains("zone-live-job", Fake.InstanceNames);
        Assert.DoesNotContain("zone-gone-job", Fake.InstanceNames);
        Assert.Contains(_log.Lines, l => l.Contains("Deleted gce machine zone-gone-job", StringComparison.Ordinal) &&
                                         l.Contains("test-project/us-central1-a/worker-host-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Worker_hosts_are_looked_for_in_the_project_they_run_in_and_a_VM_naming_a_project_not_listed_is_not_judged_by_its_host()
    {
        var future = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        Fake.Seed("worker-host-7", "us-central1-b", "RUNNING", project: FakeComputeApi.HostProject);
        Fake.Seed("host-project-live-job", "us-central1-a", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-7", future, FakeComputeApi.HostProject, "us-central1-b"));
        Fake.Seed("host-project-gone-job", "us-central1-a", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-8", future, FakeComputeApi.HostProject, "us-central1-b"));
        Fake.Seed("other-project-job", "us-central1-a", "RUNNING", Labels(GceTestBed.Fleet, "worker-host-7", future, "other-project", "us-central1-b"));

        Assert.Equal(0, await CleanupAsync(false, ("GCE_HOST_PROJECT", FakeComputeApi.HostProject)));

        Assert.Contains("worker-host-7", Fake.InstanceNames);
        Assert.Contains("host-project-live-job", Fake.InstanceNames);
        Assert.DoesNotContain("host-project-gone-job", Fake.InstanceNames);
        Assert.Contains("other-project-job", Fake.InstanceNames);
        Assert.Contains("live-job", Fake.InstanceNames); // labelled by an older worker (a name alone): its host was in the job project, not listed now
        Assert.Contains(Fake.Requests, r => r.Call == FakeCall.AggregatedInstances && r.Path.StartsWith($"/compute/v1/projects/{FakeComputeApi.HostProject}/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_stopped_worker_host_carrying_the_fleet_label_that_an_instance_group_created_is_kept()
    {
        const string group = "projects/123456789012/regions/us-central1/instanceGroupManagers/ci-worker-workers";
        Fake.Seed("ci-worker-worker-x7k2", "us-central1-b", "TERMINATED",
            new Dictionary<string, string> { [MachineLabels.Fleet] = GceTestBed.Fleet },
            metadata: new Dictionary<string, string> { ["created-by"] = group, ["user-data"] = "#cloud-config" });

        var exitCode = await CleanupAsync();

        Assert.Equal(0, exitCode);
        Assert.Contains("ci-worker-worker-x7k2", Fake.InstanceNames);
        Assert.Contains(_log.Lines, l => l.Contains("Keeping gce machine ci-worker-worker-x7k2", StringComparison.Ordinal) && l.Contains(group, StringComparison.Ordinal));
        Assert.DoesNotContain("stopped-job", Fake.InstanceNames); // the same pass still deletes a stopped job VM
    }

    [Fact]
    public async Task A_dry_run_deletes_nothing_and_names_the_same_orphans()
    {
        var before = Fake.InstanceNames.Order(StringComparer.Ordinal).ToList();

        var exitCode = await CleanupAsync(dryRun: true);

        Assert.Equal(0, exitCode);
        Assert.Equal(before, Fake.InstanceNames.Order(StringComparer.Ordinal));
        Assert.Equal(0, Fake.Count(FakeCall.DeleteInstance));
        var wouldDelete = _log.Lines.Where(l => l.StartsWith("Would delete", StringComparison.Ordinal)).ToList();
        Assert.Equal(Orphans, wouldDelete.Select(l => l.Split(' ')[4]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task When_the_worker_hosts_cannot_be_listed_no_machine_is_deleted_for_a_missing_host()
    {
        // The first aggregated list of the pass is the one of the worker hosts.
        Fake.Fail(FakeCall.AggregatedInstances, new FakeFault.Error(403, "forbidden"));

        await CleanupAsync();

        Assert.Contains("host-gone-job", Fake.InstanceNames);
        Assert.DoesNotContain("expired-job", Fake.InstanceNames);
        Assert.DoesNotContain("stopped-job", Fake.InstanceNames);
        Assert.Contains(_log.Lines, l => l.Contains("Could not list worker hosts", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deletes_are_spaced_by_the_cleanup_delete_rate()
    {
        await CleanupAsync(false, ("CLEANUP_DELETE_RATE", "4"));

        var deletes = Fake.Requests.Where(r => r.Call == FakeCall.DeleteInstance).Select(r => r.At).Order().ToList();
        Assert.Equal(3, deletes.Count);
        Assert.True(deletes[1] - deletes[0] >= TimeSpan.FromMilliseconds(230), $"{deletes[1] - deletes[0]}");
        Assert.True(deletes[2] - deletes[1] >= TimeSpan.FromMilliseconds(230), $"{deletes[2] - deletes[1]}");
    }

    [Fact]
    public async Task A_delete_that_fails_is_logged_and_the_pass_goes_on()
    {
        Fake.Fail(FakeCall.DeleteInstance, new FakeFault.Error(403, "forbidden"));

        var exitCode = await CleanupAsync();

        Assert.Equal(0, exitCode);
        Assert.Equal(Survivors.Length + 1, Fake.InstanceNames.Count);
        Assert.Single(_log.Lines, l => l.StartsWith("Could not delete gce machine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_backend_without_an_inventory_is_refused_with_the_variable_named()
    {
        var error = await Assert.ThrowsAsync<InvalidSettingException>(() => CleanupAsync(false, ("PROVIDER_NAME", "local")));

        Assert.Equal("WORKER_PROVIDER_NAME", error.Variable);
        Assert.Equal(0, Fake.Count(FakeCall.DeleteInstance));
    }

    [Fact]
    public async Task The_sidecar_loop_survives_a_failed_pass_and_deletes_on_the_next()
    {
        var settings = Bed.Settings(("GCE_API_RETRIES", "0"));
        var inventory = GceRegistration.CreateInventory(settings, GceTestBed.Fleet, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var reaper = new Worker.Core.Cleanup.OrphanReaper(inventory, inventory, GceTestBed.Fleet,
            new Worker.Core.Cleanup.CleanupOptions { Interval = TimeSpan.FromMilliseconds(100), DeletesPerSecond = 100 },
            LoggerFactory.Create(b => b.AddProvider(_log)).CreateLogger<Worker.Core.Cleanup.OrphanReaper>());
        // Both listings of the first pass (worker hosts, then this fleet's machines) fail.
        Fake.Fail(FakeCall.AggregatedInstances, new FakeFault.Error(500, "backendError"), times: 2);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var loop = reaper.RunAsync(dryRun: false, stop.Token);
        await Eventually.TrueAsync(() => Fake.InstanceNames.Count <= Survivors.Length, "the second pass deleted the orphans",
            gaveUp: () => stop.IsCancellationRequested || loop.IsCompleted);
        await stop.CancelAsync();
        await loop;

        Assert.Equal(Survivors, Fake.InstanceNames.Order(StringComparer.Ordinal));
        Assert.Contains(_log.Lines, l => l.StartsWith("Cleanup pass over gce failed", StringComparison.Ordinal));
    }

    /// <summary>A job VM's labels; without <paramref name="hostProject"/>, as a worker before host zones and projects wrote them.</summary>
    private static Dictionary<string, string> Labels(string fleet, string host, string deadline, string? hostProject = null, string? hostZone = null)
    {
        var labels = new Dictionary<string, string>
        {
            [MachineLabels.Fleet] = fleet,
            [MachineLabels.JobId] = "77",
            [MachineLabels.Host] = host,
            [MachineLabels.HostMachine] = host,
            [MachineLabels.Deadline] = deadline,
        };
        if (hostProject is not null)
        {
            labels[MachineLabels.HostProject] = hostProject;
        }
        if (hostZone is not null)
        {
            labels[MachineLabels.HostZone] = hostZone;
        }
        return labels;
    }
}
