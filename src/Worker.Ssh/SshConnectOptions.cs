namespace Worker.Ssh;

/// <summary>How long one connection attempt may take, and how attempts are repeated.</summary>
public sealed record SshConnectOptions
{
    /// <summary>Until the server's greeting: the TCP connect and the SSH version line.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>From the greeting to an authenticated session: key exchange and authentication.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pause between attempts while waiting for a machine's sshd.</summary>
    public TimeSpan RetryPause { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Attempts before giving up with <see cref="SshUnreachableException"/>; null: until the caller's token ends.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>
    /// Whether a refused credential is worth another attempt: yes for a machine still booting (its
    /// key is installed by a guest agent a moment after sshd starts), no for a host that is set up.
    /// </summary>
    public bool RetryRefusedAuthentication { get; init; }

    /// <summary>SSH keep-alive on an open connection, so a NAT or firewall does not drop a quiet job's connection.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long killing a cancelled job's processes may take, reconnecting if need be.</summary>
    public TimeSpan KillTimeout { get; init; } = TimeSpan.FromSeconds(15);

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DialTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HandshakeTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryPause, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(KillTimeout, TimeSpan.Zero);
        if (MaxAttempts is { } max)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(max, 1, nameof(MaxAttempts));
        }
    }
}
