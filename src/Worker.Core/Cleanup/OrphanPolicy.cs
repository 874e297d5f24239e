using System.Globalization;
using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Core.Cleanup;

/// <summary>
/// Decides from labels and state alone whether a machine is an orphan. Only machines carrying this
/// fleet's label are ever deleted, and only when no live job can own them: the machine is stopped,
/// its deadline (hard timeout plus margin after creation) has passed, or the machine its worker host
/// ran on is gone (only for machines whose backend recorded that host machine, in a place the host
/// listing looked), or no live worker process holds it (Tart, Vetu). Names
/// never decide, unlike gcloud-cleanup's name filters and maximum age. A machine an instance group
/// created is a worker host (an operator may have stopped it), so it is never deleted, whatever its labels.
/// </summary>
public static class OrphanPolicy
{
    /// <param name="neverStartedAfter">
    /// How long a live worker may leave a machine it made unstarted (still provisioning, or a
    /// container still <c>created</c>): one older than that was given up (see
    /// <see cref="CleanupOptions.NeverStartedAfter"/>); null: no such limit.
    /// </param>
    public static OrphanDecision Decide(MachineRecord machine, string fleet, DateTimeOffset now, ILiveWorkerHosts? liveHosts,
        TimeSpan? neverStartedAfter = null)
    {
        var ownFleet = MachineLabels.Sanitize(fleet);
        if (machine.ManagedBy is { } group)
        {
            return OrphanDecision.Keep(machine, $"the instance group {group} created it, so it is a worker host, not a job's machine");
        }
        if (!machine.Labels.TryGetValue(MachineLabels.Fleet, out var machineFleet))
        {
            return OrphanDecision.Keep(machine, "it has no worker-fleet label, so this worker did not make it");
        }
        if (machineFleet != ownFleet)
        {
            return OrphanDecision.Keep(machine, $"it belongs to fleet '{machineFleet}', not '{ownFleet}'");
        }
        if (machine.State == MachineState.Gone)
        {
            // A record is written before its machine is made, by a worker that holds its lock until the record is removed.
            return machine.HeldByLiveWorker == true
                ? OrphanDecision.Keep(machine, "only its record exists, and a live worker process holds it (it may be making the machine now)")
                : OrphanDecision.Remove(machine, "only its record is left: the machine is gone and no live worker process holds it");
        }
        if (machine.State == MachineState.Provisioning && neverStartedAfter is { } window && machine.CreatedAt is { } created && now - created > window)
        {
            return OrphanDecision.Remove(machine,
                $"it was made {Durations.Format(now - created)} ago and never started, and a worker starts its machines within {Durations.Format(window)}");
        }
        // A VM backend's machine is stopped between its clone and its boot: only its holder says whether it is in use.
        if (machine.State == MachineState.Stopped && machine.HeldByLiveWorker is null)
        {
            return OrphanDecision.Remove(machine, "it is stopped, so no job runs on it");
        }
        var deadline = Deadline(machine);
        if (deadline is { } d && d <= now)
        {
            return OrphanDecision.Remove(machine, $"its deadline {d:u} has passed, so no live job can own it");
        }
        if (machine.HeldByLiveWorker == false)
        {
            return OrphanDecision.Remove(machine, "no live worker process holds it");
        }
        if (liveHosts is not null && liveHosts.Lives(machine.Labels, out var host) == false)
        {
            return OrphanDecision.Remove(machine, $"its worker host '{host}' no longer exists");
        }
        if (deadline is null)
        {
            return OrphanDecision.Keep(machine, "it has no readable worker-deadline label, so its job may still be running");
        }
        return OrphanDecision.Keep(machine, $"its job may still be running (deadline {deadline:u})");
    }

    private static DateTimeOffset? Deadline(MachineRecord machine) =>
        machine.Labels.TryGetValue(MachineLabels.Deadline, out var text) &&
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
