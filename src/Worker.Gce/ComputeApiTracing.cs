using Worker.Core.Telemetry;

namespace Worker.Gce;

/// <summary>
/// Names for the spans and error counts of Compute API calls: one span per HTTP attempt
/// (<c>gce POST projects/{}/zones/{}/instances</c>), so retries show as siblings, and a
/// <c>worker.backend.errors</c> kind per failure (<c>http_403</c>, <c>timeout</c>, <c>connection</c>...).
/// </summary>
public static class ComputeApiTracing
{
    public const string Backend = "gce";

    private static readonly HashSet<string> Scopes = new(StringComparer.Ordinal) { "global", "aggregated" };

    /// <summary>The method and the path with its names replaced by <c>{}</c>: collections and names alternate in Compute paths.</summary>
    public static string Operation(HttpMethod method, string path)
    {
        var query = path.IndexOf('?', StringComparison.Ordinal);
        var segments = (query < 0 ? path : path[..query]).Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        var template = new List<string>(segments.Length);
        for (var i = 0; i < segments.Length; i++)
        {
            template.Add(segments[i]);
            if (!Scopes.Contains(segments[i]) && i + 1 < segments.Length)
            {
                template.Add("{}");
                i++;
            }
        }
        return method.Method + " " + string.Join('/', template);
    }

    public static string KindOf(ComputeApiException e) =>
        e.Status == 0 ? (e.Reasons.Count > 0 ? e.Reasons[0] : "error") : BackendCalls.HttpKind(e.Status);
}
