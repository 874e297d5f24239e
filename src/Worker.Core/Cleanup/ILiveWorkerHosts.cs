namespace Worker.Core.Cleanup;

/// <summary>The worker hosts one cleanup pass found, asked about each machine in turn.</summary>
public interface ILiveWorkerHosts
{
    /// <summary>
    /// Whether the worker host a machine's labels name still exists: true, false (gone), or null when
    /// the labels name no host machine, or one where this listing did not look (then a missing host
    /// decides nothing). <paramref name="host"/> names the host for the log.
    /// </summary>
    bool? Lives(IReadOnlyDictionary<string, string> labels, out string host);
}
