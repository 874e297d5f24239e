using System.Globalization;

namespace Worker.Ssh;

/// <summary>
/// A list of trusted host keys in OpenSSH's <c>known_hosts</c> format, for hosts that outlive a job
/// (bare metal, long-lived VMs): a host must show a key listed for its name. Names are patterns
/// (<c>*</c>, <c>?</c>, <c>!</c> to exclude) or hashed (<c>|1|salt|hash</c>, as <c>ssh-keygen -H</c>
/// writes them); a port other than 22 is written <c>[host]:port</c>. A key marked <c>@revoked</c> is
/// refused even where another line lists it. <c>@cert-authority</c> lines are read but trust no key:
/// host certificates are not checked here.
/// </summary>
public sealed class KnownHosts : HostKeyPolicy
{
    private readonly IReadOnlyList<KnownHostsLine> _lines;

    private KnownHosts(string source, IReadOnlyList<KnownHostsLine> lines)
    {
        Source = source;
        _lines = lines;
    }

    /// <summary>Where the list came from (a path), for messages.</summary>
    public string Source { get; }

    /// <summary>How many key lines the list holds.</summary>
    public int Count => _lines.Count;

    /// <summary>Reads a known_hosts file; a line that can't be read is a <see cref="FormatException"/> naming it.</summary>
    public static KnownHosts Load(string path) => Parse(File.ReadAllText(path), path);

    /// <param name="text">The file's content.</param>
    /// <param name="source">Names the list in messages.</param>
    public static KnownHosts Parse(string text, string source)
    {
        var lines = new List<KnownHostsLine>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            try
            {
                lines.Add(KnownHostsLine.Parse(line, number));
            }
            catch (FormatException e)
            {
                throw new FormatException($"{source} line {number.ToString(CultureInfo.InvariantCulture)}: {e.Message}", e);
            }
        }
        return new KnownHosts(source, lines);
    }

    /// <summary>Whether some line trusts a key for <paramref name="endpoint"/>; a host with none can never be reached.</summary>
    public bool ListsKeyFor(SshEndpoint endpoint)
    {
        var name = NameOf(endpoint);
        return _lines.Any(l => l.Marker == KnownHostsMarker.None && l.MatchesHost(name));
    }

    public override string? Refuse(SshEndpoint endpoint, PresentedHostKey key)
    {
        var name = NameOf(endpoint);
        var forHost = _lines.Where(l => l.MatchesHost(name)).ToList();
        if (forHost.FirstOrDefault(l => l.Marker == KnownHostsMarker.Revoked && l.HasKey(key)) is { } revoked)
        {
            return $"presented host key {key}, which {Source} line {revoked.Number} marks @revoked";
        }
        var listed = forHost.Where(l => l.Marker == KnownHostsMarker.None).ToList();
        if (listed.Any(l => l.HasKey(key)))
        {
            return null;
        }
        return listed.Count == 0
            ? $"presented host key {key}, but {Source} lists no key for {name}"
            : $"presented host key {key}, which is not the key {Source} lists for {name} (line {string.Join(", ", listed.Select(l => l.Number))})";
    }

    /// <summary>The name OpenSSH looks a host up by: lower case, and <c>[host]:port</c> unless the port is 22.</summary>
    internal static string NameOf(SshEndpoint endpoint)
    {
        var host = endpoint.Host.ToLowerInvariant();
        return endpoint.Port == 22 ? host : $"[{host}]:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
    }
}
