using System.Globalization;
using System.Net;

namespace Worker.Http;

/// <summary>
/// Where the health and control server listens, written as travis-worker's
/// <c>REMOTE_CONTROLLER_ADDR</c>: <c>127.0.0.1:8080</c>, <c>[::1]:8080</c>, <c>localhost:8080</c>, or
/// <c>:8080</c> for every interface (what a container needs so the host's health check reaches it).
/// </summary>
public sealed record HttpListenAddress(string? Host, int Port)
{
    public const string Allowed = "host:port or :port, e.g. 127.0.0.1:8080 or :8080 (empty turns the server off)";

    /// <summary>True for <c>:port</c>: listen on every interface.</summary>
    public bool AnyHost => Host is null;

    public static bool TryParse(string text, out HttpListenAddress? address)
    {
        address = null;
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            return false;
        }
        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
            if (!IPAddress.TryParse(host, out _))
            {
                return false;
            }
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            return false; // an IPv6 address needs brackets, or its last group reads as the port
        }
        if (host.Length > 0 && !IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) != UriHostNameType.Dns)
        {
            return false;
        }
        address = new HttpListenAddress(host.Length == 0 ? null : host, port);
        return true;
    }

    public override string ToString() => Host switch
    {
        null => $":{Port}",
        var h when h.Contains(':', StringComparison.Ordinal) => $"[{h}]:{Port}",
        var h => $"{h}:{Port}",
    };
}
