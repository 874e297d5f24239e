using System.Runtime.CompilerServices;
using Worker.Core.Backends;
using Worker.Core.Cleanup;

namespace Worker.Gce;

/// <summary>
/// What the cleanup sidecar sees on GCE: the job project's instances carrying this fleet's label (one
/// aggregated list over all zones, filtered by the label, never by name), and which worker host
/// machines still exist: every instance of the project the hosts run in, by zone and name (a worker
/// on GCE puts its instance's project, zone and name in the labels of its job VMs; see
/// <see cref="GceHostMachine"/>). An instance a managed instance group created says so
/// (<c>created-by</c> metadata), so cleanup can tell a stopped worker host from a job VM.
/// </summary>
/// <param name="hostProject">Where the worker hosts run (<see cref="GceHostMachine.ProjectOf"/>).</param>
public sealed class GceInventory(ComputeClient compute, string fleet, string hostProject) : IInstanceInventory, IWorkerHostDirectory
{
    public string Backend => "gce";

    public async IAsyncEnumerable<MachineRecord> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var filter = $"labels.{MachineLabels.Fleet} = \"{MachineLabels.Sanitize(fleet)}\"";
        await foreach (var instance in compute.AggregatedInstancesAsync(filter, ct))
        {
            yield return new MachineRecord(
                instance.Id ?? instance.Name,
                instance.Name,
                instance.Labels ?? new Dictionary<string, string>(),
                DateTimeOffset.TryParse(instance.CreationTimestamp, out var created) ? created : null,
                StateOf(instance.Status),
                LastSegment(instance.Zone),
                instance.CreatedBy);
        }
    }

    public Task DeleteAsync(MachineRecord machine, CancellationToken ct) =>
        compute.DeleteInstanceAsync(machine.Zone ?? throw new ArgumentException($"{machine.Name} has no zone", nameof(machine)), machine.Name, null, ct);

    public async Task<ILiveWorkerHosts?> LiveHostsAsync(CancellationToken ct)
    {
        var hosts = new HashSet<(string Zone, string Name)>();
        await foreach (var instance in compute.AggregatedInstancesAsync(hostProject, null, ct))
        {
            hosts.Add((MachineLabels.Sanitize(LastSegment(instance.Zone) ?? ""), MachineLabels.Sanitize(instance.Name)));
        }
        return new GceLiveHosts(MachineLabels.Sanitize(hostProject), MachineLabels.Sanitize(compute.Project), hosts);
    }

    public void Dispose() => compute.Dispose();

    public static MachineState StateOf(string status) => status switch
    {
        "PROVISIONING" or "STAGING" => MachineState.Provisioning,
        "RUNNING" => MachineState.Running,
        "STOPPING" or "SUSPENDING" => MachineState.Stopping,
        "STOPPED" or "TERMINATED" => MachineState.Stopped,
        _ => MachineState.Unknown,
    };

    private static string? LastSegment(string? url) => url is null ? null : url[(url.LastIndexOf('/') + 1)..];
}
