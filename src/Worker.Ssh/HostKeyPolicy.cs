namespace Worker.Ssh;

/// <summary>
/// Which host key a machine may show. Nothing is sent to a machine whose key is refused: the
/// connection ends during key exchange, before authentication.
/// </summary>
public abstract class HostKeyPolicy
{
    /// <summary>Accepts every key. Only for hosts an operator chose not to check, and said so loudly.</summary>
    public static HostKeyPolicy AcceptAnyKey { get; } = new AnyHostKey();

    /// <summary>Trust on first use, for one machine this worker just created: a fresh pin per machine.</summary>
    public static HostKeyPin PinFirstKey() => new();

    /// <summary>Why <paramref name="key"/> is not acceptable for <paramref name="endpoint"/>, or null to accept it.</summary>
    public abstract string? Refuse(SshEndpoint endpoint, PresentedHostKey key);

    private sealed class AnyHostKey : HostKeyPolicy
    {
        public override string? Refuse(SshEndpoint endpoint, PresentedHostKey key) => null;
    }
}
