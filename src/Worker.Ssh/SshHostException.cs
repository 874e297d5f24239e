namespace Worker.Ssh;

/// <summary>
/// The host, not the job, is at fault: it can't be reached, it refused our credentials, or it
/// showed a host key we don't trust. Each names the host, port and user, so a caller can set the
/// host aside and requeue the job.
/// </summary>
public abstract class SshHostException(SshEndpoint endpoint, string message, Exception? inner) : Exception(message, inner)
{
    public SshEndpoint Endpoint { get; } = endpoint;
}

/// <summary>No SSH session could be opened within the attempts allowed (no route, refused, no greeting, a handshake that stalled).</summary>
public sealed class SshUnreachableException(SshEndpoint endpoint, int attempts, Exception last)
    : SshHostException(endpoint, $"SSH to {endpoint} failed {attempts} time(s); last: {last.Message}", last)
{
    public int Attempts { get; } = attempts;
}

/// <summary>The host turned our credential down.</summary>
public sealed class SshAuthenticationRefusedException(SshEndpoint endpoint, string credentialKind, Exception inner)
    : SshHostException(endpoint, $"{endpoint} refused the {credentialKind}: {inner.Message}", inner);

/// <summary>The host showed a key that its <see cref="HostKeyPolicy"/> refuses; nothing was sent to it.</summary>
public sealed class HostKeyRejectedException(SshEndpoint endpoint, string reason, Exception? inner)
    : SshHostException(endpoint, $"{endpoint} {reason}", inner);
