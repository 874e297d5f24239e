namespace Worker.Ssh;

/// <summary>
/// Trust on first use for one machine's life: the host key seen at the first connection is the only
/// one accepted afterwards, so a machine whose address was taken over can't receive the script. Use
/// it for a machine this worker created a moment ago, never for a host that outlives the job.
/// </summary>
public sealed class HostKeyPin : HostKeyPolicy
{
    private readonly Lock _lock = new();

    /// <summary>SHA-256 fingerprint of the pinned key, or null before the first connection.</summary>
    public string? Fingerprint { get; private set; }

    public override string? Refuse(SshEndpoint endpoint, PresentedHostKey key)
    {
        lock (_lock)
        {
            Fingerprint ??= key.Fingerprint;
            return Fingerprint == key.Fingerprint ? null : $"presented host key {key.Fingerprint}, not the pinned {Fingerprint}";
        }
    }
}
