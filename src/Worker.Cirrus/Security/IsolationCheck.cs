using Worker.Cirrus.Api;
using Worker.Cirrus.Tasks;

namespace Worker.Cirrus.Security;

/// <summary>
/// What <c>security.allowed-isolations</c> says about one task, decided before any machine exists.
/// The refusal goes to Cirrus in <c>TaskFailed</c> and names the rule that refused, so whoever wrote
/// the <c>.cirrus.yml</c> knows which line of the worker's file to ask about.
/// </summary>
public static class IsolationCheck
{
    private const string Rules = "security.allowed-isolations";

    /// <summary>Why the task may not run here, or null when it may.</summary>
    public static string? Refusal(Isolation? isolation, SecurityPolicy security)
    {
        if (IsolationKinds.Of(isolation) is not { } kind)
        {
            return "the task's isolation is of a type this worker does not know (none, container, tart and vetu are supported)";
        }
        if (kind == IsolationKind.Parallels)
        {
            return "\"parallels\" isolation is not supported by this worker; use tart for macOS VMs";
        }
        if (security.For(kind) is not { } policy)
        {
            var listed = security.AllowedIsolations!.Keys.Select(k => k.KeyName()).ToList();
            return $"\"{kind.KeyName()}\" isolation is not allowed by {Rules} (allowed: {(listed.Count == 0 ? "nothing" : string.Join(", ", listed))})";
        }
        var at = $"{Rules}.{kind.KeyName()}";
        return kind switch
        {
            IsolationKind.Container => ImageRefusal("container image", isolation!.Container.Image, policy, at)
                ?? isolation.Container.Volumes.Select(v => VolumeRefusal(v.Source, v.Source, v.ReadOnly, policy, at)).FirstOrDefault(r => r is not null),
            IsolationKind.Tart => ImageRefusal("\"tart\" VM image", isolation!.Tart.Image, policy, at)
                ?? isolation.Tart.Volumes.Select(v => VolumeRefusal(v.Name.Length > 0 ? v.Name : v.Source, v.Source, v.ReadOnly, policy, at)).FirstOrDefault(r => r is not null),
            IsolationKind.Vetu => ImageRefusal("\"vetu\" VM image", isolation!.Vetu.Image, policy, at),
            _ => null,
        };
    }

    /// <summary>Softnet for a tart task: on when the task asks or the operator forces it; the allowed CIDRs only then.</summary>
    public static (bool Softnet, IReadOnlyList<string> Allow) TartSoftnet(Isolation.Types.Tart tart, SecurityPolicy security)
    {
        var policy = security.For(IsolationKind.Tart) ?? IsolationPolicy.Open;
        var on = tart.Softnet || policy.ForceSoftnet;
        return (on, on ? policy.SoftnetAllow : []);
    }

    private static string? ImageRefusal(string what, string image, IsolationPolicy policy, string at)
    {
        if (policy.AllowedImages.Count == 0 || policy.AllowedImages.Any(pattern => Wildcard.Matches(pattern, image)))
        {
            return null;
        }
        return $"{what} \"{image}\" is not allowed by {at}.allowed-images ({string.Join(", ", policy.AllowedImages)})";
    }

    private static string? VolumeRefusal(string name, string source, bool readOnly, IsolationPolicy policy, string at)
    {
        // Cleaned so "/cache/../etc" can't pass as "/cache/*"; a trailing "/" is kept, as cirrus-cli keeps it.
        var cleaned = CleanPath.Of(source);
        if (source.EndsWith('/') && !cleaned.EndsWith('/'))
        {
            cleaned += "/";
        }
        foreach (var allowed in policy.AllowedVolumes)
        {
            if (!Wildcard.Matches(allowed.Source, cleaned))
            {
                continue;
            }
            return !allowed.ForceReadOnly || readOnly
                ? null
                : $"volume \"{name}\" must be read-only: {at}.allowed-volumes has force-readonly for {allowed.Source}";
        }
        return policy.AllowedVolumes.Count == 0
            ? $"volume \"{name}\" is not allowed: {at}.allowed-volumes lists none"
            : $"volume \"{name}\" is not allowed by {at}.allowed-volumes ({string.Join(", ", policy.AllowedVolumes.Select(v => v.Source))})";
    }
}
