namespace Worker.Core.Hosting;

/// <summary>
/// The group of worker hosts this host is one of (a GCE managed instance group): how many hosts it is
/// meant to hold, and how this host leaves it. A host that leaves lowers the group's target size, so
/// the group does not replace it.
/// </summary>
public interface IHostGroup
{
    /// <summary>The group, as an operator finds it (e.g. <c>regions/us-central1/instanceGroupManagers/ci-worker-workers</c>).</summary>
    string Name { get; }

    /// <summary>The number of hosts the group is meant to hold now (its target size).</summary>
    Task<int> TargetSizeAsync(CancellationToken ct);

    /// <summary>Removes this host from the group and lowers its target size; the group then deletes the host's machine.</summary>
    Task LeaveAsync(CancellationToken ct);
}
