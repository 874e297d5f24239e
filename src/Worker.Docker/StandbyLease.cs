using System.Globalization;
using System.Text.RegularExpressions;

namespace Worker.Docker;

/// <summary>
/// An idle standby belongs to the worker that keeps renewing its lease, and Docker can't change a
/// container's labels, so the lease is in its name: <c>worker-standby-SUFFIX-until-UNIXSECONDS</c>.
/// The owner renames it to a later time while it lives; once the time has passed, its worker is gone
/// (killed, or cut off from the engine), and another worker on the host may take the standby over
/// and the cleanup sidecar may delete it. Every move on a standby is a rename from the name it was
/// seen under, so of two workers moving on the same one, exactly one succeeds; the other finds no
/// container by that name and leaves it alone.
/// </summary>
public static partial class StandbyLease
{
    public const string Prefix = "worker-standby-";

    public static string Name(string suffix, long untilUnixSeconds) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{suffix}-until-{untilUnixSeconds}");

    /// <summary>Reads a leased standby's name; an older worker's <c>worker-standby-SUFFIX</c> has no lease.</summary>
    public static bool TryParse(string name, out string suffix, out long untilUnixSeconds)
    {
        var match = LeasedName().Match(name.TrimStart('/'));
        suffix = match.Success ? match.Groups[1].Value : "";
        untilUnixSeconds = 0;
        return match.Success && long.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out untilUnixSeconds);
    }

    [GeneratedRegex("^worker-standby-([a-z0-9]+)-until-([0-9]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex LeasedName();
}
