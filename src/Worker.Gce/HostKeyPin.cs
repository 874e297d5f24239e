using Renci.SshNet.Common;

namespace Worker.Gce;

/// <summary>
/// Trust on first use for one instance's life: the host key seen at the first connection is the
/// only one accepted afterwards, so a VM whose address was taken over can't receive the script.
/// </summary>
public sealed class HostKeyPin
{
    private readonly Lock _lock = new();

    /// <summary>SHA-256 fingerprint of the pinned key, or null before the first connection.</summary>
    public string? Fingerprint { get; private set; }

    /// <summary>The last fingerprint refused because it was not the pinned one.</summary>
    public string? Refused { get; private set; }

    public void Check(object? sender, HostKeyEventArgs e)
    {
        lock (_lock)
        {
            Fingerprint ??= e.FingerPrintSHA256;
            e.CanTrust = Fingerprint == e.FingerPrintSHA256;
            if (!e.CanTrust)
            {
                Refused = e.FingerPrintSHA256;
            }
        }
    }
}
