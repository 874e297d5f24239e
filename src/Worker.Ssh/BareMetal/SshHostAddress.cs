using System.Globalization;

namespace Worker.Ssh.BareMetal;

/// <summary>
/// One entry of <c>WORKER_SSH_HOSTS</c>: <c>[user@]host[:port]</c>, an IPv6 address in brackets
/// when it has a port (<c>[::1]:2222</c>). A host without a user logs in as <c>WORKER_SSH_USER</c>,
/// one without a port on 22.
/// </summary>
public sealed record SshHostAddress(string? User, string Host, int Port)
{
    public const int DefaultPort = 22;

    public static bool TryParse(string text, out SshHostAddress address)
    {
        address = new SshHostAddress(null, "", DefaultPort);
        text = text.Trim();
        string? user = null;
        var at = text.LastIndexOf('@');
        if (at >= 0)
        {
            user = text[..at];
            text = text[(at + 1)..];
            if (!IsName(user))
            {
                return false;
            }
        }
        string host;
        var port = DefaultPort;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0 && (!rest.StartsWith(':') || !TryPort(rest[1..], out port)))
            {
                return false;
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            if (!TryPort(text[(colon + 1)..], out port))
            {
                return false;
            }
        }
        else
        {
            host = text; // a name, an IPv4 address, or an IPv6 address without a port
        }
        if (!IsName(host))
        {
            return false;
        }
        address = new SshHostAddress(user, host, port);
        return true;
    }

    /// <summary>The endpoint this entry logs in to, as <paramref name="defaultUser"/> unless it names its own user.</summary>
    public SshEndpoint Endpoint(string? defaultUser) => new(Host, Port, User ?? defaultUser
        ?? throw new InvalidOperationException($"{this} names no user and there is no default"));

    public override string ToString()
    {
        var host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        var port = Port == DefaultPort ? "" : ":" + Port.ToString(CultureInfo.InvariantCulture);
        return (User is null ? "" : User + "@") + host + port;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;

    private static bool IsName(string text) =>
        text.Length > 0 && text.All(c => !char.IsWhiteSpace(c) && c is not ('@' or '/' or '[' or ']' or ',' or '\'' or '"'));
}
