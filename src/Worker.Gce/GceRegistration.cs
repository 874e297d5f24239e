using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Registration;

namespace Worker.Gce;

/// <summary>
/// The Compute Engine backend (<c>WORKER_PROVIDER_NAME=gce</c>): its settings, and the backend and
/// inventory built from <c>WORKER_GCE_*</c>, each with its own API client.
/// </summary>
public static class GceRegistration
{
    private const string ImageChoice = "a job's image is its own `image`, else the one WORKER_GCE_IMAGE_SELECTOR_TYPE chooses (the GCE_IMAGE_KEY mappings, or job-board), else WORKER_GCE_IMAGE_DEFAULT; image aliases are not supported";
    private const string RateLimit = "the Compute API rate limit is per worker host (WORKER_GCE_RATE_LIMIT, calls per second); no Redis";
    private const string NoWarmer = "no VM warmer service is used";

    public static BackendRegistration Backend { get; } = new()
    {
        Name = "gce",
        SettingsTitle = "GCE backend (Compute Engine VMs)",
        Settings = GceOptions.All,
        CreateBackend = services => CreateBackend(services.Settings, services.Loggers),
        CheckSettings = settings => GceOptions.Load(settings),
        CreateInventory = services =>
        {
            var inventory = CreateInventory(services.Settings, services.Options.Fleet, services.Loggers);
            return new CleanupInventory(inventory, inventory);
        },
        KeyPrefixes = [GceOptions.ImageMappingPrefix],
        TravisOnlySettings = new Dictionary<string, string>
        {
            ["GCE_IMAGE_ALIASES"] = ImageChoice,
            ["GCE_DEFAULT_LANGUAGE"] = ImageChoice,
            ["GCE_RATE_LIMIT_PREFIX"] = RateLimit,
            ["GCE_RATE_LIMIT_REDIS_URL"] = RateLimit,
            ["GCE_RATE_LIMIT_MAX_CALLS"] = RateLimit,
            ["GCE_RATE_LIMIT_DURATION"] = RateLimit,
            ["GCE_RATE_LIMIT_DYNAMIC_CONFIG"] = RateLimit,
            ["GCE_RATE_LIMIT_DYNAMIC_CONFIG_TTL"] = RateLimit,
            ["GCE_DISK_SIZE_WINDOWS"] = "Windows VMs are not supported yet",
            ["GCE_WARMER_URL"] = NoWarmer,
            ["GCE_WARMER_TIMEOUT"] = NoWarmer,
            ["GCE_WARMER_SSH_PASSPHRASE"] = NoWarmer,
            ["GCE_DETERMINISTIC_HOSTNAME"] = "a job VM's name is always made from its job id",
            ["GCE_STOP_PRE_POLL_SLEEP"] = "the delete is polled at once, every WORKER_GCE_STOP_POLL_SLEEP",
        },
    };

    public static GceBackend CreateBackend(SettingsSource settings, ILoggerFactory loggers)
    {
        var options = GceOptions.Load(settings);
        var compute = CreateClient(options, settings, loggers);
        var host = GceHostMachine.Resolve(options, compute.Project);
        return new GceBackend(compute, options.OnHost(host), host, loggers.CreateLogger<GceBackend>());
    }

    public static GceInventory CreateInventory(SettingsSource settings, string fleet, ILoggerFactory loggers)
    {
        var options = GceOptions.Load(settings);
        var compute = CreateClient(options, settings, loggers);
        return new GceInventory(compute, fleet, GceHostMachine.ProjectOf(options, compute.Project));
    }

    /// <summary>A Compute API client that owns its HttpClient.</summary>
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
