namespace Worker.Core.Cleanup;

/// <summary>
/// Tells the cleanup sidecar which worker hosts exist, so a machine whose host is gone (crashed,
/// scaled in) can be deleted: no live job can own it, because its job's worker is gone too.
/// </summary>
public interface IWorkerHostDirectory
{
    /// <summary>
    /// The worker host machines that exist now, read once per pass. Null when it can't be told; then
    /// no machine is deleted for a missing host.
    /// </summary>
    Task<ILiveWorkerHosts?> LiveHostsAsync(CancellationToken ct);
}
