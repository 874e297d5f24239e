using System.Globalization;
using System.Text.RegularExpressions;

namespace Worker.Cirrus.Agent;

/// <summary>
/// Which agent a task gets, as cirrus-cli decides it: the task's <c>cli_version</c>, never below
/// <see cref="Default"/>; empty or unparsable means the default. Versions are compared and written
/// as hashicorp/go-version does (<c>v1.2</c> is <c>1.2.0</c>; a pre-release sorts below its release).
/// </summary>
public static partial class AgentVersion
{
    /// <summary>cirrus-cli's <c>platform.DefaultAgentVersion</c>.</summary>
    public const string Default = "0.164.2";

    [GeneratedRegex(@"^v?(?<segments>[0-9]+(?:\.[0-9]+)*)(?:-?(?<pre>[0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?(?:\+(?<meta>[0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?$")]
    private static partial Regex Pattern();

    /// <summary>The version to run for a task, and a warning when its <c>cli_version</c> could not be used.</summary>
    public static (string Version, string? Warning) ForTask(string? cliVersion)
    {
        if (string.IsNullOrWhiteSpace(cliVersion))
        {
            return (Default, null);
        }
        if (Parse(cliVersion.Trim()) is not { } requested)
        {
            return (Default, $"the task's cli_version '{cliVersion}' is not a version; using the agent {Default}");
        }
        var floor = Parse(Default)!;
        return Compare(requested, floor) < 0 ? (floor.Text, null) : (requested.Text, null);
    }

    internal sealed record Parsed(long[] Segments, string Pre, string Text);

    internal static Parsed? Parse(string text)
    {
        var match = Pattern().Match(text);
        if (!match.Success)
        {
            return null;
        }
        var segments = new List<long>();
        foreach (var s in match.Groups["segments"].Value.Split('.'))
        {
            if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                return null;
            }
            segments.Add(n);
        }
        while (segments.Count < 3)
        {
            segments.Add(0);
        }
        var pre = match.Groups["pre"].Value;
        var meta = match.Groups["meta"].Value;
        var written = string.Join('.', segments.Select(s => s.ToString(CultureInfo.InvariantCulture)))
            + (pre.Length > 0 ? "-" + pre : "")
            + (meta.Length > 0 ? "+" + meta : "");
        return new Parsed(segments.ToArray(), pre, written);
    }

    internal static int Compare(Parsed a, Parsed b)
    {
        for (var i = 0; i < Math.Max(a.Segments.Length, b.Segments.Length); i++)
        {
            var x = i < a.Segments.Length ? a.Segments[i] : 0;
            var y = i < b.Segments.Length ? b.Segments[i] : 0;
            if (x != y)
            {
                return x.CompareTo(y);
            }
        }
        if (a.Pre == b.Pre)
        {
            return 0;
        }
        if (a.Pre.Length == 0 || b.Pre.Length == 0)
        {
            return a.Pre.Length == 0 ? 1 : -1;
        }
        var left = a.Pre.Split('.');
        var right = b.Pre.Split('.');
        for (var i = 0; i < Math.Min(left.Length, right.Length); i++)
        {
            var numeric = long.TryParse(left[i], NumberStyles.None, CultureInfo.InvariantCulture, out var l)
                & long.TryParse(right[i], NumberStyles.None, CultureInfo.InvariantCulture, out var r);
            var order = numeric ? l.CompareTo(r) : string.CompareOrdinal(left[i], right[i]);
            if (order != 0)
            {
                return order;
            }
        }
        return left.Length.CompareTo(right.Length);
    }
}
