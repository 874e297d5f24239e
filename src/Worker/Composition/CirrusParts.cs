using Microsoft.Extensions.Logging;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Config;
using Worker.Cirrus.Jobs;
using Worker.Cirrus.Session;
using Worker.Cirrus.Tasks;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;

namespace Worker.Composition;

/// <summary>
/// What the <c>worker cirrus</c> commands are made of: the worker file, the clients of its upstreams
/// and the agent cache; for <c>run</c> also the job pipeline with a backend per isolation (local for
/// none, the others from the list of backends, each made when a task first needs it).
/// </summary>
public sealed class CirrusParts : IAsyncDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(10) };
    private readonly List<IAsyncDisposable> _owned = [];

    private CirrusParts(WorkerContext context, CirrusWorkerConfig config)
    {
        Context = context;
        Config = config;
        var logger = context.LoggerFactory.CreateLogger("cirrus");
        Upstreams = config.Upstreams.Select(u => new CirrusUpstreamClient(config.Name, u, logger: logger)).ToList();
        Agents = new AgentBinaries(AgentBinaries.UserCacheDirectory(Environment.GetEnvironmentVariable, OperatingSystem.IsMacOS()),
            CirrusOptions.From(context.Settings).AgentUrlTemplate, _http);
    }

    public WorkerContext Context { get; }
    public CirrusWorkerConfig Config { get; }
    public IReadOnlyList<CirrusUpstreamClient> Upstreams { get; }
    public AgentBinaries Agents { get; }

    /// <summary>The worker file with its flags; its <c>log.level</c> is the log level unless WORKER_LOG_LEVEL says otherwise.</summary>
    public static (CirrusWorkerConfig Config, SettingsSource Settings) Load(SettingsSource settings, string? file, CirrusFlags flags)
    {
        var config = CirrusConfigLoader.Load(file, flags);
        if (config.Log.Level is { } level && settings.Find(WorkerOptions.LogLevel.Key) is null)
        {
            settings = settings.With(WorkerOptions.LogLevel.Key, level.ToLowerInvariant() switch
            {
                "trace" => "verbose",
                "debug" => "debug",
                "info" => "information",
                "warn" or "warning" => "warning",
                _ => "error",
            });
        }
        return (config, settings);
    }

    public static CirrusParts Create(WorkerContext context, CirrusWorkerConfig config)
    {
        var parts = new CirrusParts(context, config);
        var logger = context.LoggerFactory.CreateLogger("cirrus");
        foreach (var warning in config.Warnings)
        {
            logger.LogWarning("{Warning}", warning);
        }
        if (config.Log.File is not null)
        {
            logger.LogWarning("log.file is not supported: this worker logs to stderr (WORKER_LOG_FORMAT=json for structured lines)");
        }
        return parts;
    }

    /// <summary>
    /// The runner of <c>worker cirrus run</c>: each task a job of the pipeline. Isolation none runs
    /// on the local backend; container, tart and vetu on theirs, made from WORKER_* settings when a
    /// task first needs one.
    /// </summary>
    public ICirrusTaskRunner CreatePipelineRunner()
    {
        var services = Context.Services;
        var local = Backends.Named("local", "the none isolation").CreateBackend(services);
        _owned.Add(local);
        var others = Backends.All
            .Where(b => b.Name != local.Name && CirrusJobSpec.Backends.Contains(b.Name))
            .ToDictionary(b => b.Name, b => (Func<IBackend>)(() => b.CreateBackend(services)));
        var catalog = new BackendCatalog(others, "the backends this worker has");
        _owned.Add(catalog);
        var pipeline = Context.CreatePipeline(local, backends: catalog);
        return new PipelineTaskRunner(pipeline, Context.Cancellations, Agents, Config.Security, Context.LoggerFactory.CreateLogger("cirrus"));
    }

    public CirrusWorkerSession CreateSession(ICirrusTaskRunner runner) =>
        new(Config, Upstreams, runner, Context.LoggerFactory.CreateLogger<CirrusWorkerSession>());

    public async ValueTask DisposeAsync()
    {
        // The catalog before the local backend: disposed in reverse of making.
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
        foreach (var upstream in Upstreams)
        {
            upstream.Dispose();
        }
        _http.Dispose();
    }
}
