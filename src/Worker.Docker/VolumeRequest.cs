namespace Worker.Docker;

/// <summary>
/// A bind or named volume as a job or the operator writes it, <c>SOURCE:DESTINATION[:ro|rw]</c>.
/// Paths are taken apart here so a policy glob can't be walked out of with <c>..</c>.
/// </summary>
public sealed record VolumeRequest(string Source, string Destination, bool ReadOnly)
{
    public string ToBind() => $"{Source}:{Destination}:{(ReadOnly ? "ro" : "rw")}";

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
