using System.Collections.Frozen;

namespace Worker.Docker;

/// <summary>
/// A bind or named volume as a job or the operator writes it, <c>SOURCE:DESTINATION[:ro|rw]</c>.
/// Paths are taken apart here so a policy glob can't be walked out of with <c>..</c>.
/// </summary>
/// <param name="EngineOptions">The engine's other bind options (<c>z</c>, <c>rshared</c>, <c>cached</c>...), comma-separated: the operator's binds only.</param>
public sealed record VolumeRequest(string Source, string Destination, bool ReadOnly, string EngineOptions = "")
{
    private static readonly FrozenSet<string> Relabelling = new[] { "z", "Z" }.ToFrozenSet(StringComparer.Ordinal);
    private static readonly FrozenSet<string> Propagation =
        new[] { "shared", "rshared", "slave", "rslave", "private", "rprivate" }.ToFrozenSet(StringComparer.Ordinal);
    private static readonly FrozenSet<string> Consistency = new[] { "consistent", "cached", "delegated" }.ToFrozenSet(StringComparer.Ordinal);

    public string ToBind() => $"{Source}:{Destination}:{(ReadOnly ? "ro" : "rw")}{(EngineOptions.Length > 0 ? "," + EngineOptions : "")}";

    public VolumeRequest AsReadOnly() => this with { ReadOnly = true };

    /// <summary>
    /// Accepts an absolute host path without <c>..</c> segments (collapsed: no repeated or trailing
    /// slashes) or a Docker volume name as source, an absolute destination, and only the modes
    /// <c>ro</c> and <c>rw</c>: propagation and SELinux relabelling options are not for jobs to set.
    /// Nothing may be mounted over the job's script.
    /// </summary>
    public static bool TryParse(string text, out VolumeRequest volume)
    {
        volume = new VolumeRequest("", "", false);
        var parts = text.Split(':');
        if (parts.Length is < 2 or > 3)
        {
            return false;
        }
        var readOnly = false;
        if (parts.Length == 3)
        {
            if (parts[2] is not ("ro" or "rw"))
            {
                return false;
            }
            readOnly = parts[2] == "ro";
        }
        var source = parts[0].StartsWith('/') ? CleanPath(parts[0]) : IsVolumeName(parts[0]) ? parts[0] : null;
        var destination = parts[1].StartsWith('/') ? CleanPath(parts[1]) : null;
        if (source is null || destination is null || ScriptArchive.IsCoveredBy(destination))
        {
            return false;
        }
        volume = new VolumeRequest(source, destination, readOnly);
        return true;
    }

    /// <summary>
    /// A bind the operator sets (<c>WORKER_DOCKER_VOLUMES</c>, travis-worker's <c>DOCKER_BINDS</c>), as
    /// <see cref="TryParse"/> takes a job's, but with the engine's other options beside <c>ro</c>/<c>rw</c>,
    /// as travis-worker passed its binds on: SELinux relabelling (<c>z</c> or <c>Z</c>), one
    /// propagation (<c>rshared</c>...), one consistency (<c>cached</c>...), and <c>nocopy</c> for a
    /// named volume; e.g. <c>/srv/cache:/cache:ro,z</c> (<c>ro;z</c> in a comma-separated list).
    /// </summary>
    public static bool TryParseOperatorBind(string text, out VolumeRequest volume)
    {
        var parts = text.Split(':');
        if (parts.Length != 3)
        {
            return TryParse(text, out volume);
        }
        var options = parts[2].Split(',', ';'); // ';' where the list itself is comma-separated (WORKER_DOCKER_VOLUMES)
        var access = options.Where(o => o is "ro" or "rw").ToList();
        var others = options.Where(o => o is not ("ro" or "rw")).ToList();
        var named = !parts[0].StartsWith('/');
        if (access.Count > 1 || others.Distinct(StringComparer.Ordinal).Count() != others.Count
            || others.Any(o => !(Relabelling.Contains(o) || Propagation.Contains(o) || Consistency.Contains(o) || o == "nocopy" && named))
            || others.Count(Relabelling.Contains) > 1 || others.Count(Propagation.Contains) > 1 || others.Count(Consistency.Contains) > 1
            || !TryParse(access.Count == 1 ? $"{parts[0]}:{parts[1]}:{access[0]}" : $"{parts[0]}:{parts[1]}", out volume))
        {
            volume = new VolumeRequest("", "", false);
            return false;
        }
        volume = volume with { EngineOptions = string.Join(',', others) };
        return true;
    }

    private static string? CleanPath(string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Any(s => s is ".." or "."))
        {
            return null;
        }
        return "/" + string.Join('/', segments);
    }

    private static bool IsVolumeName(string name) =>
        name.Length > 0 && char.IsAsciiLetterOrDigit(name[0]) &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
}
