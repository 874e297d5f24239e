using Worker.Cirrus.Tasks;

namespace Worker.Cirrus.Security;

/// <summary>
/// <c>security.allowed-isolations</c>. Without the section every isolation is allowed; once it is
/// there, an isolation not listed (or listed with a null value, as cirrus-cli decodes it) is refused.
/// </summary>
public sealed record SecurityPolicy
{
    public static SecurityPolicy AllowEverything { get; } = new();

    /// <summary>The listed isolations and their rules; null when the file has no <c>allowed-isolations</c>.</summary>
    public IReadOnlyDictionary<IsolationKind, IsolationPolicy>? AllowedIsolations { get; init; }

    /// <summary>The rules for <paramref name="kind"/>, or null when it is not allowed at all.</summary>
    public IsolationPolicy? For(IsolationKind kind) =>
        AllowedIsolations is null ? IsolationPolicy.Open
        : AllowedIsolations.TryGetValue(kind, out var policy) ? policy
        : null;
}

/// <summary>
/// One isolation's rules. Images: whole-string <c>*</c> globs, none listed means any image.
/// Volumes: a volume is refused unless a rule matches its source (so none listed means no volumes,
/// as cirrus-cli does for tart; here container volumes are held to the same rule).
/// </summary>
public sealed record IsolationPolicy(
    IReadOnlyList<string> AllowedImages,
    IReadOnlyList<AllowedVolume> AllowedVolumes,
    bool ForceSoftnet,
    IReadOnlyList<string> SoftnetAllow)
{
    public static IsolationPolicy Open { get; } = new([], [], false, []);
}

/// <summary><c>allowed-volumes[]</c>: a source glob, and whether a matching volume must ask for read-only.</summary>
public sealed record AllowedVolume(string Source, bool ForceReadOnly);
