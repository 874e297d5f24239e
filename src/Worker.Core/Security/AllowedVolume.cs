namespace Worker.Core.Security;

/// <summary>One entry of <c>WORKER_ALLOWED_VOLUMES</c>: a glob over volume sources, and whether such a mount is forced read-only.</summary>
public sealed record AllowedVolume(Glob Source, bool ForceReadOnly)
{
    /// <summary>Parses <c>GLOB</c> or <c>GLOB:ro</c>.</summary>
    public static bool TryParse(string text, out AllowedVolume rule)
    {
        var readOnly = text.EndsWith(":ro", StringComparison.Ordinal);
        var glob = readOnly ? text[..^3] : text;
        rule = new AllowedVolume(new Glob(glob), readOnly);
        return glob.Length > 0 && !glob.Contains(':');
    }

    public override string ToString() => ForceReadOnly ? Source.Pattern + ":ro" : Source.Pattern;
}
