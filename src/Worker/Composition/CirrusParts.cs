using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Cirrus.Agent;
using Worker.Amqp;
using Worker.Cirrus.Config;
using Worker.Cirrus.Fleet;
using Worker.Cirrus.Jobs;
using Worker.Cirrus.Session;
using Worker.Cirrus.Standby;
using Worker.Cirrus.Tasks;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Vm.Vetu;

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

    /// <summary>The worker file with its flags, and the settings with what the file sets of them (<see cref="Effective"/>).</summary>
    public static (CirrusWorkerConfig Config, SettingsSource Settings) Load(SettingsSource settings, string? file, CirrusFlags flags)
    {
        var config = CirrusConfigLoader.Load(file, flags);
        return (config, Effective(settings, config));
    }

    /// <summary>
    /// <paramref name="settings"/> with the worker file's keys that are settings of this worker, each
    /// unless its variable says otherwise: <c>log.level</c> is the log level (WORKER_LOG_LEVEL), and
    /// <c>tuning.vetu.mtu</c> goes to every <c>vetu run</c> as <c>--net-host-mtu</c> (WORKER_VETU_NET_HOST_MTU),
    /// as cirrus-cli passes it.
    /// </summary>
    public static SettingsSource Effective(SettingsSource settings, CirrusWorkerConfig config)
    {
        if (config.VetuMtu > 0 && settings.Find(VetuOptions.NetHostMtu.Key) is null)
        {
            settings = settings.With(VetuOptions.NetHostMtu.Key, config.VetuMtu.ToString(CultureInfo.InvariantCulture));
        }
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
        return settings;
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
        var local = Backends.Named("local", "the none isolation").CreateBackend(Context.Services);
        _owned.Add(local);
        var catalog = IsolationBackends(Context, local);
        _owned.Add(catalog);
        var pipeline = Context.CreatePipeline(local, backends: catalog);
        var standbyLogger = Context.LoggerFactory.CreateLogger("cirrus-standby");
        var prePull = Config.TartPrePull is { } pull
            ? new TartPrePull(pull, TartPrePull.TartOf(catalog), standbyLogger)
            : null;
        Standby = new BackendStandby(catalog, Config.Security, standbyLogger, prePull: prePull);
        return new PipelineTaskRunner(pipeline, Context.Cancellations, Agents, Config.Security, Context.LoggerFactory.CreateLogger("cirrus"));
    }

    /// <summary>The backends of the isolations other than <paramref name="own"/>'s, each made from WORKER_* settings when a task first needs it.</summary>
    public static BackendCatalog IsolationBackends(WorkerContext context, IBackend own)
    {
        var services = context.Services;
        var others = Backends.All
            .Where(b => b.Name != own.Name && CirrusJobSpec.Backends.Contains(b.Name))
            .ToDictionary(b => b.Name, b => (Func<IBackend>)(() => b.CreateBackend(services)));
        return new BackendCatalog(others, "the backends this worker has");
    }

    /// <summary>
    /// What a <c>worker run</c> host needs to run the Cirrus tasks a bridge queued: the isolations'
    /// backends and the reader of their payloads (the agent from this host's cache or WORKER_CIRRUS_AGENT_URL).
    /// </summary>
    public static (BackendCatalog Backends, IPayloadReader Reader) ForFleetHost(WorkerContext context, IBackend own, HttpClient http)
    {
        var options = CirrusOptions.From(context.Settings);
        var agents = new AgentBinaries(AgentBinaries.UserCacheDirectory(Environment.GetEnvironmentVariable, OperatingSystem.IsMacOS()),
            options.AgentUrlTemplate, http);
        return (IsolationBackends(context, own), new CirrusPayloadReader(agents, options.FleetBackendNames));
    }

    /// <summary>
    /// Fleet mode's runner: each task a job on the AMQP job queue (WORKER_AMQP_URI, WORKER_QUEUE_NAME),
    /// remembered under WORKER_BASE_DIR until Cirrus heard it stopped.
    /// </summary>
    public async Task<FleetTaskRunner> CreateFleetRunnerAsync(CancellationToken ct)
    {
        var logger = Context.LoggerFactory.CreateLogger("cirrus-bridge");
        var queue = new FleetQueue(AmqpOptions.Load(Context.Settings), Context.Options.JobQueueName, Config.Name, logger);
        _owned.Add(queue);
        await queue.ConnectAsync(ct);
        Forwarded = ForwardedTasks.Open(Path.Combine(Context.Options.BaseDirectory, "cirrus", Config.Name + ".forwarded.json"));
        FleetQueue = queue;
        return new FleetTaskRunner(queue, Forwarded, Config.Security, logger);
    }

    public ForwardedTasks? Forwarded { get; private set; }

    /// <summary>The standby of <c>worker cirrus run</c> (made with its runner); fleet mode keeps none.</summary>
    public ICirrusStandby? Standby { get; private set; }

    public FleetQueue? FleetQueue { get; private set; }

    public CirrusWorkerSession CreateSession(ICirrusTaskRunner runner) =>
        new(Config, Upstreams, runner, Context.LoggerFactory.CreateLogger<CirrusWorkerSession>(), standby: Standby);

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
