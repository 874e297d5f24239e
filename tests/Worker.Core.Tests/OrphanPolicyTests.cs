using System.Globalization;
using Worker.Core.Backends;
using Worker.Core.Cleanup;

namespace Worker.Core.Tests;

/// <summary>The cleanup sidecar's decision about one machine, from its labels and state alone.</summary>
public sealed class OrphanPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 22, 0, 0, TimeSpan.Zero);
    private static readonly HostMachineNames LiveHosts = new(["host-a"]);

    private static MachineRecord Machine(MachineState state = MachineState.Running, string? fleet = "fleet-1", string? host = "host-a",
        DateTimeOffset? deadline = null, string name = "vm")
    {
        var labels = new Dictionary<string, string>();
        if (fleet is not null)
        {
            labels[MachineLabels.Fleet] = fleet;
        }
        if (host is not null)
        {
            labels[MachineLabels.Host] = host;
            labels[MachineLabels.HostMachine] = host;
        }
        labels[MachineLabels.Deadline] = (deadline ?? Now.AddMinutes(30)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return new MachineRecord(name, name, labels, Now.AddHours(-1), state);
    }

    [Fact]
    public void A_running_machine_of_a_live_host_before_its_deadline_is_kept()
    {
        var decision = OrphanPolicy.Decide(Machine(), "fleet-1", Now, LiveHosts);

        Assert.False(decision.Delete);
        Assert.Contains("may still be running", decision.Reason);
    }

    [Fact]
    public void A_stopped_machine_of_this_fleet_is_deleted_even_before_its_deadline()
    {
        Assert.True(OrphanPolicy.Decide(Machine(MachineState.Stopped), "fleet-1", Now, LiveHosts).Delete);
    }

    [Fact]
    public void A_machine_past_its_deadline_is_deleted_whatever_its_host()
    {
        var decision = OrphanPolicy.Decide(Machine(deadline: Now.AddSeconds(-1)), "fleet-1", Now, null);

        Assert.True(decision.Delete);
        Assert.Contains("deadline", decision.Reason);
    }

    [Fact]
    public void A_machine_whose_host_is_gone_is_deleted_only_when_the_hosts_are_known()
    {
        var machine = Machine(host: "host-gone");

        Assert.True(OrphanPolicy.Decide(machine, "fleet-1", Now, LiveHosts).Delete);
        Assert.False(OrphanPolicy.Decide(machine, "fleet-1", Now, null).Delete);
    }

    [Fact]
    public void A_missing_host_decides_only_by_the_host_machine_label_never_by_the_free_text_host_label()
    {
        var machine = Machine(host: "host-gone");
        var withoutHostMachine = machine with
        {
            Labels = machine.Labels.Where(l => l.Key != MachineLabels.HostMachine).ToDictionary(l => l.Key, l => l.Value),
        };

        Assert.False(OrphanPolicy.Decide(withoutHostMachine, "fleet-1", Now, LiveHosts).Delete);
    }

    [Fact]
    public void Machines_of_another_fleet_or_of_none_are_never_deleted()
    {
        var expiredStopped = (MachineState.Stopped, Now.AddDays(-1));

        Assert.False(OrphanPolicy.Decide(Machine(expiredStopped.Item1, fleet: "fleet-2", deadline: expiredStopped.Item2), "fleet-1", Now, LiveHosts).Delete);
        Assert.False(OrphanPolicy.Decide(Machine(expiredStopped.Item1, fleet: null, deadline: expiredStopped.Item2, name: "worker-job-1"), "fleet-1", Now, LiveHosts).Delete);
    }

    [Fact]
    public void The_fleet_is_compared_as_the_labels_spell_it()
    {
        Assert.True(OrphanPolicy.Decide(Machine(MachineState.Stopped, fleet: "ci-linux"), "CI.Linux", Now, LiveHosts).Delete);
    }

    [Fact]
    public void A_machine_whose_host_was_not_looked_for_is_kept()
    {
        var machine = Machine(host: "host-elsewhere");

        Assert.False(OrphanPolicy.Decide(machine, "fleet-1", Now, new HostMachineNames(["host-a"], unlisted: "host-elsewhere")).Delete);
    }

    [Fact]
    public void A_running_machine_without_a_readable_deadline_is_kept()
    {
        var machine = Machine() with { Labels = new Dictionary<string, string> { [MachineLabels.Fleet] = "fleet-1", [MachineLabels.Deadline] = "soon" } };

        var decision = OrphanPolicy.Decide(machine, "fleet-1", Now, LiveHosts);

        Assert.False(decision.Delete);
        Assert.Contains("no readable worker-deadline", decision.Reason);
    }

    [Fact]
    public void A_record_left_without_its_machine_is_removed_unless_a_live_worker_holds_it_whatever_its_deadline()
    {
        var gone = Machine(MachineState.Gone, deadline: Now.AddMinutes(-1));

        Assert.True(OrphanPolicy.Decide(gone with { HeldByLiveWorker = false }, "fleet-1", Now, LiveHosts).Delete);
        Assert.True(OrphanPolicy.Decide(Machine(MachineState.Gone) with { HeldByLiveWorker = false }, "fleet-1", Now, LiveHosts).Delete);
        var cloning = OrphanPolicy.Decide(gone with { HeldByLiveWorker = true }, "fleet-1", Now, LiveHosts);
        Assert.False(cloning.Delete);
        Assert.Contains("a live worker process holds it", cloning.Reason);
        Assert.False(OrphanPolicy.Decide(Machine(MachineState.Gone, fleet: "fleet-2") with { HeldByLiveWorker = false }, "fleet-1", Now, LiveHosts).Delete);
    }

    [Fact]
    public void A_machine_never_started_is_deleted_once_older_than_the_start_window_and_kept_before_or_without_one()
    {
        var window = TimeSpan.FromMinutes(15);
        var made = Machine(MachineState.Provisioning); // made an hour before Now

        var old = OrphanPolicy.Decide(made, "fleet-1", Now, LiveHosts, window);
        Assert.True(old.Delete);
        Assert.Equal("it was made 1h ago and never started, and a worker starts its machines within 15m", old.Reason);
        Assert.False(OrphanPolicy.Decide(made with { CreatedAt = Now.AddMinutes(-10) }, "fleet-1", Now, LiveHosts, window).Delete);
        Assert.False(OrphanPolicy.Decide(made, "fleet-1", Now, LiveHosts).Delete);
        Assert.False(OrphanPolicy.Decide(Machine(), "fleet-1", Now, LiveHosts, window).Delete); // running: started long ago
        Assert.False(OrphanPolicy.Decide(Machine(MachineState.Provisioning, fleet: "fleet-2"), "fleet-1", Now, LiveHosts, window).Delete);
    }

    /// <summary>Worker hosts known by their host machine label alone; <c>unlisted</c> names one where nobody looked.</summary>
    private sealed class HostMachineNames(HashSet<string> names, string? unlisted = null) : ILiveWorkerHosts
    {
        public bool? Lives(IReadOnlyDictionary<string, string> labels, out string host)
        {
            if (!labels.TryGetValue(MachineLabels.HostMachine, out var name))
            {
                host = "";
                return null;
            }
            host = name;
            return name == unlisted ? null : names.Contains(name);
        }
    }
}
