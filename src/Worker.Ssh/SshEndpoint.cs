namespace Worker.Ssh;

/// <summary>Where to log in and as whom. Errors and log lines name a machine by it: <c>user@host:port</c>.</summary>
public sealed record SshEndpoint
{
    public SshEndpoint(string host, int port, string user)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentException.ThrowIfNullOrWhiteSpace(user);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        Host = host;
        Port = port;
        User = user;
    }

    public string Host { get; }
    public int Port { get; }
    public string User { get; }

    /// <summary><c>host:port</c>, an IPv6 address in brackets.</summary>
    public string Address => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public override string ToString() => $"{User}@{Address}";
}
