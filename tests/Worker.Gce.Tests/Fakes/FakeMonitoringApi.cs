using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Worker.Gce.Tests.Fakes;

/// <summary>
/// Cloud Monitoring API v3 on a loopback port: <c>POST /v3/projects/{project}/timeSeries</c> with the
/// real request and its checks (a bearer token; 1 to 200 series; a custom or workload metric type;
/// a monitored resource with its required labels; GAUGE points of one moment each; one point per
/// series a call; points of a series in order and at most one per <see cref="MinimumSpacing"/>) and
/// the real answers (<c>{}</c>, or Google's error body with INVALID_ARGUMENT, UNAUTHENTICATED...).
/// Faults: the next calls fail with a given status.
/// </summary>
public sealed class FakeMonitoringApi : IAsyncDisposable
{
    public const string DefaultToken = "monitoring-test-token";

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _lastPoint = new(StringComparer.Ordinal);
    private readonly Queue<(int Status, string Code)> _faults = new();

    private FakeMonitoringApi(WebApplication app, string token)
    {
        _app = app;
        Token = token;
    }

    /// <summary>The only bearer token it takes.</summary>
    public string Token { get; }

    /// <summary>The base URL, the value of <c>WORKER_GCE_MONITORING_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Cloud Monitoring takes a point per series every 5 s at most; a test of anything else may lower it.</summary>
    public TimeSpan MinimumSpacing { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Every request: its path, its body and the status it got.</summary>
    public ConcurrentQueue<(string Path, JsonObject? Body, int Status)> Requests { get; } = new();

    /// <summary>Every point written, in order.</summary>
    public ConcurrentQueue<(string Metric, JsonObject Series, DateTimeOffset End, double Value)> Points { get; } = new();

    public static async Task<FakeMonitoringApi> StartAsync(string token = DefaultToken)
    {
        var app = LoopbackApp.Build();
        var fake = new FakeMonitoringApi(app, token);
        app.MapPost("/v3/projects/{project}/timeSeries", fake.CreateAsync);
        app.MapFallback(context => Error(context, 404, "NOT_FOUND", $"The requested URL {context.Request.Path} was not found on this server."));
        fake.Endpoint = new Uri(await LoopbackApp.StartAsync(app), "/v3/");
        return fake;
    }

    /// <summary>The next <paramref name="times"/> calls answer <paramref name="status"/> with <paramref name="code"/> (e.g. 503 UNAVAILABLE).</summary>
    public void Fail(int status, string code, int times = 1)
    {
        lock (_lock)
        {
            for (var i = 0; i < times; i++)
            {
                _faults.Enqueue((status, code));
            }
        }
    }

    private async Task CreateAsync(HttpContext context, string project)
    {
        JsonObject? body = null;
        try
        {
            body = await JsonNode.ParseAsync(context.Request.Body) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
        }
        var (status, code, message) = Check(context.Request.Headers.Authorization.ToString(), project, body);
        Requests.Enqueue((context.Request.Path + context.Request.QueryString, body, status));
        if (status != 200)
        {
            await Error(context, status, code, message);
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("{}\n");
    }

    private (int Status, string Code, string Message) Check(string authorization, string project, JsonObject? body)
    {
        lock (_lock)
        {
            if (authorization != "Bearer " + Token)
            {
                return (401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.");
            }
            if (_faults.TryDequeue(out var fault))
            {
                return (fault.Status, fault.Code, $"injected {fault.Status} {fault.Code}");
            }
            if (body?["timeSeries"] is not JsonArray { Count: > 0 and <= 200 } series)
            {
                return Invalid("Field timeSeries had an invalid value: between 1 and 200 time series are allowed per request.");
            }
            var accepted = new List<(string Key, string Metric, JsonObject Series, DateTimeOffset End, double Value)>();
            foreach (var item in series.OfType<JsonObject>())
            {
                var metric = item["metric"]?["type"]?.GetValue<string>() ?? "";
                if (!metric.StartsWith("custom.googleapis.com/", StringComparison.Ordinal) && !metric.StartsWith("workload.googleapis.com/", StringComparison.Ordinal))
                {
                    return Invalid($"Field timeSeries[0].metric.type had an invalid value of \"{metric}\": The metric type must be a custom metric.");
                }
                var resource = item["resource"] as JsonObject;
                var resourceLabels = resource?["labels"] as JsonObject ?? [];
                if (resource?["type"]?.GetValue<string>() != "gce_instance"
                    || new[] { "project_id", "instance_id", "zone" }.Any(l => resourceLabels[l]?.GetValue<string>() is not { Length: > 0 }))
                {
                    return Invalid("Field timeSeries[0].resource had an invalid value: a gce_instance resource needs the labels project_id, instance_id and zone.");
                }
                if (resourceLabels["project_id"]!.GetValue<string>() != project)
                {
                    return Invalid($"Field timeSeries[0].resource.labels.project_id had an invalid value: the resource is not in project {project}.");
                }
                if (item["metricKind"]?.GetValue<string>() != "GAUGE" || item["valueType"]?.GetValue<string>() != "DOUBLE")
                {
                    return Invalid("Field timeSeries[0].metricKind had an invalid value: this fake takes GAUGE DOUBLE series, as the worker writes.");
                }
                if (item["points"] is not JsonArray { Count: 1 } points)
                {
                    return Invalid("Field timeSeries[0].points had an invalid value: Only one point can be written per TimeSeries per request.");
                }
                var interval = points[0]?["interval"] as JsonObject;
                if (!DateTimeOffset.TryParse(interval?["endTime"]?.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var end))
                {
                    return Invalid("Field timeSeries[0].points[0].interval.end_time had an invalid value: an RFC 3339 time is required.");
                }
                if (interval!["startTime"]?.GetValue<string>() is { } start && start != interval["endTime"]!.GetValue<string>())
                {
                    return Invalid("Field timeSeries[0].points[0].interval.start_time had an invalid value: The start time must be equal to the end time for the gauge metric.");
                }
                if (points[0]?["value"]?["doubleValue"] is not JsonValue number || !number.TryGetValue<double>(out var value))
                {
                    return Invalid("Field timeSeries[0].points[0].value had an invalid value: a doubleValue is required for a DOUBLE series.");
                }
                var key = metric + (item["metric"]?["labels"]?.ToJsonString() ?? "") + resourceLabels.ToJsonString();
                if (_lastPoint.TryGetValue(key, out var last) && end < last + MinimumSpacing)
                {
                    return Invalid("One or more TimeSeries could not be written: One or more points were written more frequently than the maximum sampling period configured for the metric.");
                }
                accepted.Add((key, metric, item, end, value));
            }
            foreach (var (key, metric, item, end, value) in accepted)
            {
                _lastPoint[key] = end;
                Points.Enqueue((metric, (JsonObject)item.DeepClone(), end, value));
            }
            return (200, "", "");
        }
    }

    private static (int, string, string) Invalid(string message) => (400, "INVALID_ARGUMENT", message);

    private static Task Error(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(new JsonObject
        {
            ["error"] = new JsonObject { ["code"] = status, ["message"] = message, ["status"] = code },
        }.ToJsonString());
    }

    public async ValueTask DisposeAsync() => await LoopbackApp.StopAsync(_app);
}
