namespace Worker.Core.Backends;

/// <summary>The machines a backend holds that this fleet created, for the cleanup sidecar. Disposing it lets go of its API client.</summary>
public interface IInstanceInventory : IDisposable
{
    string Backend { get; }

    /// <summary>Machines carrying this fleet's labels (and, for the sidecar's report, any others it can see).</summary>
    IAsyncEnumerable<MachineRecord> ListAsync(CancellationToken ct);

    Task DeleteAsync(MachineRecord machine, CancellationToken ct);
}

public enum MachineState
{
    Provisioning,
    Running,
    Stopping,
    Stopped,
    Unknown,

    /// <summary>Only the machine's record is left (Tart, Vetu): the machine itself does not exist.</summary>
    Gone,
}

/// <summary>One machine as an inventory sees it.</summary>
/// <param name="ManagedBy">The instance group that created the machine, if one did (GCE's <c>created-by</c>
/// metadata): a worker host, never a job's machine, whatever its labels say.</param>
/// <param name="HeldByLiveWorker">
/// Whether a live worker process holds the machine now (its lock), for backends that can tell
/// (Tart, Vetu); null for the others. A held machine is in use even when it looks stopped; one
/// that nobody holds is left over.
/// </param>
public sealed record MachineRecord(
    string Id,
    string Name,
    IReadOnlyDictionary<string, string> Labels,
    DateTimeOffset? CreatedAt,
    MachineState State,
    string? Zone = null,
    string? ManagedBy = null,
    bool? HeldByLiveWorker = null);
