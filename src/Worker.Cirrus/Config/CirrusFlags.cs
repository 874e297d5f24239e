using System.Globalization;

namespace Worker.Cirrus.Config;

/// <summary>
/// cirrus-cli's <c>worker run</c> flags. As there, they are the defaults the file starts from: a key
/// in the file wins over its flag, and <c>--labels</c>/<c>--resources</c> entries stay unless the
/// file's map has the same key.
/// </summary>
public sealed record CirrusFlags
{
    /// <summary><c>--name</c>; null means the host name without a trailing <c>.lan</c> or <c>.local</c>.</summary>
    public string? Name { get; init; }

    public string? Token { get; init; }

    /// <summary>Each <c>--labels</c> occurrence as typed: <c>k=v</c> or <c>k1=v1,k2=v2</c>.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>Each <c>--resources</c> occurrence as typed: <c>k=1.5</c> or <c>k1=1,k2=2</c>.</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    public string? RpcEndpoint { get; init; }

    public static string DefaultName(string hostName)
    {
        var name = hostName;
        if (name.EndsWith(".lan", StringComparison.Ordinal))
        {
            name = name[..^4];
        }
        if (name.EndsWith(".local", StringComparison.Ordinal))
        {
            name = name[..^6];
        }
        return name;
    }

    internal Dictionary<string, string> LabelPairs() => Pairs(Labels, "--labels");

    internal Dictionary<string, double> ResourcePairs() =>
        Pairs(Resources, "--resources").ToDictionary(
            p => p.Key,
            p => double.TryParse(p.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
                ? v
                : throw new CirrusConfigException($"--resources {p.Key}={p.Value}: the amount must be a number"),
            StringComparer.Ordinal);

    private static Dictionary<string, string> Pairs(IEnumerable<string> occurrences, string flag)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in occurrences.SelectMany(o => o.Split(',')))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CirrusConfigException($"{flag} {entry}: expected key=value");
            }
            pairs[entry[..eq]] = entry[(eq + 1)..];
        }
        return pairs;
    }
}
