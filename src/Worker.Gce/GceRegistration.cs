using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;

namespace Worker.Gce;

/// <summary>Builds the GCE backend and inventory from <c>WORKER_GCE_*</c>; both share one API client, so one rate limit.</summary>
public static class GceRegistration
{
    private static readonly Uri MetadataProjectId = new("http://metadata.google.internal/computeMetadata/v1/project/project-id");

    public static GceBackend CreateBackend(SettingsSource settings, ILoggerFactory loggers)
    {
        var options = GceOptions.Load(settings);
        return new GceBackend(CreateClient(options, settings, loggers), options, loggers.CreateLogger<GceBackend>());
    }

    public static GceInventory CreateInventory(SettingsSource settings, string fleet, ILoggerFactory loggers)
    {
        var options = GceOptions.Load(settings);
        return new GceInventory(CreateClient(options, settings, loggers), fleet);
    }

    public static ComputeClient CreateClient(GceOptions options, SettingsSource settings, ILoggerFactory loggers)
    {
        IAccessTokenSource tokens = options.Token is { } token ? new StaticAccessToken(token) : new GoogleAccessTokens(options.Account);
        var project = options.Project ?? ProjectFromMetadata()
            ?? throw new InvalidSettingException(settings.Find(GceOptions.ProjectId.Key)?.Variable ?? "WORKER_GCE_PROJECT_ID", "",
                "a project id (required when the worker does not run on GCE)");
        // Per-request timeouts are the client's business (GCE_REQUEST_TIMEOUT), so HttpClient's own is off.
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        return new ComputeClient(http, tokens, project, options, loggers.CreateLogger<ComputeClient>());
    }

    /// <summary>The project of the GCE instance this runs on, or null off GCE.</summary>
    private static string? ProjectFromMetadata()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var request = new HttpRequestMessage(HttpMethod.Get, MetadataProjectId);
        request.Headers.Add("Metadata-Flavor", "Google");
        try
        {
            using var response = http.Send(request);
            return response.IsSuccessStatusCode ? new StreamReader(response.Content.ReadAsStream()).ReadToEnd().Trim() : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }
}
