using Worker.Core.Configuration;

namespace Worker.Core.Security;

/// <summary>
/// The operator's allow-lists for what a job may name, shared by every backend that boots a job's
/// own image (Docker, Tart, Vetu): one key each, read the same way everywhere.
/// </summary>
public static class JobPolicySettings
{
    public static readonly Setting<IReadOnlyList<string>> AllowedImages = Setting.List("ALLOWED_IMAGES",
        "Images a job may name (docker, tart, vetu), as globs over the whole reference ('*' matches any text, '/' included). Empty: any image. The backend's default image is always allowed.",
        "a comma-separated list of globs, e.g. worker-job-*,ghcr.io/acme/*");

    public static readonly Setting<IReadOnlyList<string>> AllowedVolumes = new("ALLOWED_VOLUMES", Array.Empty<string>(),
        "Host directories a job may mount (config.volumes on docker, tart), as globs over the source; a ':ro' suffix forces the mount read-only. Empty: jobs mount nothing.",
        "a comma-separated list of SOURCE_GLOB[:ro], e.g. /srv/cache/*,/data/*:ro",
        text => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is var rules && rules.All(r => AllowedVolume.TryParse(r, out _))
            ? (true, rules)
            : (false, Array.Empty<string>()),
        v => string.Join(",", v));
}
