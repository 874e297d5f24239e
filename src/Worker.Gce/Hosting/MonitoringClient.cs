using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Worker.Gce.Hosting;

/// <summary>
/// Cloud Monitoring API v3 over HttpClient: <c>projects.timeSeries.create</c> with one gauge point of
/// a custom metric on this host's <c>gce_instance</c> resource, the series a per-instance autoscaling
/// metric reads. The metric's descriptor is created by Cloud Monitoring on the first write.
/// </summary>
public sealed class MonitoringClient(HttpClient http, IAccessTokenSource tokens, Uri endpoint, TimeSpan requestTimeout)
{
    /// <summary>Writes <paramref name="value"/> at <paramref name="at"/>; throws <see cref="MonitoringApiException"/> when it is refused.</summary>
    public async Task WriteGaugeAsync(GceHost host, string metricType, IReadOnlyDictionary<string, string> metricLabels,
        double value, DateTimeOffset at, CancellationToken ct)
    {
        var labels = new JsonObject();
        foreach (var (key, text) in metricLabels)
        {
            labels[key] = text;
        }
        var body = new JsonObject
        {
            ["timeSeries"] = new JsonArray(new JsonObject
            {
                ["metric"] = new JsonObject { ["type"] = metricType, ["labels"] = labels },
                ["resource"] = new JsonObject
                {
                    ["type"] = "gce_instance",
                    ["labels"] = new JsonObject { ["project_id"] = host.Project, ["instance_id"] = host.InstanceId, ["zone"] = host.Zone },
                },
                ["metricKind"] = "GAUGE",
                ["valueType"] = "DOUBLE",
                ["points"] = new JsonArray(new JsonObject
                {
                    // A gauge's interval is one moment: its end time (a start time would have to equal it).
                    ["interval"] = new JsonObject { ["endTime"] = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) },
                    ["value"] = new JsonObject { ["doubleValue"] = value },
                }),
            }),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(requestTimeout);
        var what = $"POST projects/{host.Project}/timeSeries ({metricType})";
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, $"projects/{host.Project}/timeSeries"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(timeout.Token));
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await http.SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                throw new MonitoringApiException((int)response.StatusCode, $"{what}: HTTP {(int)response.StatusCode}: {ErrorMessage(await response.Content.ReadAsStringAsync(timeout.Token))}");
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new MonitoringApiException(0, $"{what}: no answer within {requestTimeout.TotalSeconds:0.###}s");
        }
        catch (HttpRequestException e)
        {
            throw new MonitoringApiException(0, $"{what}: {e.Message}", e);
        }
    }

    /// <summary>Google's error body: <c>{"error": {"code", "message", "status"}}</c>; anything else in part.</summary>
    private static string ErrorMessage(string text)
    {
        try
        {
            if (JsonNode.Parse(text)?["error"] is JsonObject error)
            {
                return $"{error["status"]?.GetValue<string>()} {error["message"]?.GetValue<string>()}".Trim();
            }
        }
        catch (JsonException)
        {
        }
        return text.Length > 300 ? text[..300] : text;
    }
}

/// <summary>A refused or failed Cloud Monitoring call: its HTTP status (0 when there was no answer).</summary>
public sealed class MonitoringApiException(int status, string message, Exception? inner = null) : Exception(message, inner)
{
    public int Status { get; } = status;
}
