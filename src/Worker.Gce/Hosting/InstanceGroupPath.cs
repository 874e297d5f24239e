using System.Text.RegularExpressions;

namespace Worker.Gce.Hosting;

/// <summary>
/// A managed instance group by where it lives: <c>regions/us-central1/instanceGroupManagers/NAME</c>
/// (regional) or <c>zones/us-central1-a/instanceGroupManagers/NAME</c> (zonal), as an instance's
/// <c>created-by</c> metadata names it (after <c>projects/NUMBER/</c>, which is dropped: the Compute
/// API is called with the worker's own project).
/// </summary>
public sealed partial record InstanceGroupPath(string ScopeKind, string Scope, string Name)
{
    public static InstanceGroupPath? TryParse(string text)
    {
        var match = Pattern().Match(text.Trim());
        return match.Success ? new InstanceGroupPath(match.Groups["kind"].Value, match.Groups["scope"].Value, match.Groups["name"].Value) : null;
    }

    /// <summary>The group manager's path under the Compute API's base URL.</summary>
    public string ApiPath(string project) => $"projects/{project}/{ScopeKind}/{Scope}/instanceGroupManagers/{Name}";

    public override string ToString() => $"{ScopeKind}/{Scope}/instanceGroupManagers/{Name}";

    [GeneratedRegex(@"^(?:(?:https://[^/]+/compute/v1/)?projects/[^/]+/)?(?<kind>regions|zones)/(?<scope>[a-z0-9-]+)/instanceGroupManagers/(?<name>[a-z]([-a-z0-9]{0,61}[a-z0-9])?)$")]
    private static partial Regex Pattern();
}
