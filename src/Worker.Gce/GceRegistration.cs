using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;

namespace Worker.Gce;

/// <summary>Builds the GCE backend and inventory from <c>WORKER_GCE_*</c>; both share one API client, so one rate limit.</summary>
public static class GceRegistration
{
    public static GceBackend CreateBackend(SettingsSource settings, ILoggerFactory loggers)
    {
        var options = GceOptions.Load(settings);
        var hostMachine = options.HostInstance ?? GceMetadata.Get("instance/name");
        return new GceBackend(CreateClient(options, settings, loggers), options, hostMachine, loggers.CreateLogger<GceBackend>());
    }

    public static GceInventory CreateInventory(SettingsSource settings, string fleet, ILoggerFactory loggers)
    {
        var options = GceOptions.Load(settings);
        return new GceInventory(CreateClient(options, settings, loggers), fleet);
    }

    public static ComputeClient CreateClient(GceOptions options, SettingsSource settings, ILoggerFactory loggers)
    {
        IAccessTokenSource tokens = options.Token is { } token ? new StaticAccessToken(token) : new GoogleAccessTokens(options.Account);
        var project = options.Project ?? GceMetadata.Get("project/project-id")
            ?? throw new InvalidSettingException(settings.Find(GceOptions.ProjectId.Key)?.Variable ?? "WORKER_GCE_PROJECT_ID", "",
                "a project id (required when the worker does not run on GCE)");
        // Per-request timeouts are the client's business (GCE_REQUEST_TIMEOUT), so HttpClient's own is off.
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        return new ComputeClient(http, tokens, project, options, loggers.CreateLogger<ComputeClient>());
    }
}
