namespace Worker.Core.Security;

/// <summary>
/// <c>WORKER_ALLOWED_VOLUMES</c> as a backend applies it to a host path a job asks to mount. Where
/// the worker sees the files the mount will reach (the same host), a source is judged at its real
/// path, every symlink in it followed (<see cref="HostPath.Real"/>), against rules whose
/// directories before the first wildcard are resolved the same way: a link a job left in an allowed
/// cache can't lead out of it. The path reached is the one to mount, so the check and the mount agree.
/// </summary>
public sealed class VolumeAllowList
{
    private readonly IReadOnlyList<AllowedVolume> _rules;
    private readonly bool _followLinks;

    /// <param name="followLinks">Whether this host's files are the ones the mount reaches; false (a remote engine) judges paths as written.</param>
    public VolumeAllowList(IReadOnlyList<string> rules, bool followLinks)
    {
        _rules = rules.Select(r => AllowedVolume.TryParse(r, out var rule)
            ? rule
            : throw new ArgumentException($"not a volume rule: {r}", nameof(rules))).ToList();
        _followLinks = followLinks;
    }

    public bool IsEmpty => _rules.Count == 0;

    /// <summary>Where a mount of the absolute <paramref name="source"/> leads; null when its links loop or can't be read.</summary>
    public string? Reach(string source) => _followLinks ? HostPath.Real(source) : source;

    /// <summary>
    /// The first rule that allows <paramref name="reached"/> (a path from <see cref="Reach"/>); with
    /// <paramref name="exactly"/>, only a rule that names that very path (a wildcard never does).
    /// </summary>
    public AllowedVolume? RuleFor(string reached, bool exactly = false) =>
        _rules.FirstOrDefault(r => exactly ? Resolved(r.Source) == reached : new Glob(Resolved(r.Source)).IsMatch(reached));

    /// <summary>A source as a refusal names it: as the job wrote it, and where it really leads when that differs.</summary>
    public static string Named(string asked, string reached) => asked == reached ? $"'{asked}'" : $"'{asked}' (really '{reached}')";

    public override string ToString() => string.Join(", ", _rules);

    /// <summary>A rule's glob with the directories before its first wildcard resolved, to compare with real paths.</summary>
    private string Resolved(Glob rule)
    {
        var pattern = rule.Pattern;
        if (!_followLinks || !pattern.StartsWith('/'))
        {
            return pattern;
        }
        var wildcard = pattern.IndexOfAny(['*', '?']);
        if (wildcard < 0)
        {
            return HostPath.Real(pattern) ?? pattern;
        }
        var directory = pattern.LastIndexOf('/', wildcard);
        return directory <= 0 ? pattern : (HostPath.Real(pattern[..directory]) ?? pattern[..directory]) + pattern[directory..];
    }
}
