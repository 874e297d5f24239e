using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Registration;
using Worker.Core.Scripts;
using Worker.Telemetry;

namespace Worker.Composition;

/// <summary>
/// What every command shares: validated settings, logging, the cancellation hub and the machine
/// labels. Building it validates every key, so a bad value stops start-up with one line, and warns
/// about every WORKER_ variable the worker does not read.
/// </summary>
public sealed class WorkerContext : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly Lazy<HttpClient> _insecureHttp = new(() => new HttpClient(new HttpClientHandler
    {
        // WORKER_BUILD_API_INSECURE_SKIP_VERIFY: the operator chose to trust any certificate of the script API.
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
    }) { Timeout = TimeSpan.FromSeconds(30) });

    private readonly bool _owner;
    private readonly bool _ownsLoggers;

    private WorkerContext(SettingsSource settings, WorkerOptions options, ILoggerFactory loggerFactory, TelemetryExport telemetry,
        bool owner, bool ownsLoggers)
    {
        Settings = settings;
        Options = options;
        LoggerFactory = loggerFactory;
        Telemetry = telemetry;
        _owner = owner;
        _ownsLoggers = ownsLoggers;
        Labels = new MachineLabels(options.Fleet, options.Host,
            options.Startup + options.Upload + options.Teardown + TimeSpan.FromMinutes(10));
    }

    public SettingsSource Settings { get; }
    public WorkerOptions Options { get; }
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Where spans, metrics and log records go (OTLP, Honeycomb, /metrics); flushed when the context is disposed.</summary>
    public TelemetryExport Telemetry { get; }
    public JobCancellations Cancellations { get; } = new();
    public MachineLabels Labels { get; }

    /// <summary>What registrations build backends, queues and submitters from.</summary>
    public WorkerServices Services => new(Settings, Options, Labels, Cancellations, LoggerFactory) { BackendName = Backends.ProviderName.Read(Settings) };

    public static WorkerContext Create(SettingsSource settings, ILoggerFactory? loggerFactory = null)
    {
        SettingsCatalog.Validate(settings);
        var options = WorkerOptions.Load(settings);
        var telemetry = TelemetryOptions.Load(settings);
        var export = TelemetryExport.Start(settings, options, telemetry, prometheus: Worker.Http.HttpOptions.Addr.Read(settings) is not null);
        var context = new WorkerContext(settings, options,
            loggerFactory ?? Logging.CreateLoggerFactory(options, Worker.Gce.GceOptions.ProjectId.Read(settings), telemetry, export),
            export, owner: true, ownsLoggers: loggerFactory is null);
        var logger = context.LoggerFactory.CreateLogger("settings");
        foreach (var warning in SettingsCatalog.UnusedVariableWarnings(settings))
        {
            logger.LogWarning("{Warning}", warning);
        }
        return context;
    }

    public WorkerContext With(Func<WorkerOptions, WorkerOptions> change) =>
        new(Settings, change(Options), LoggerFactory, Telemetry, owner: false, ownsLoggers: false);

    /// <summary>The builtin generator, or travis-build's with WORKER_BUILD_API_URI; behind the payload filter when one is set.</summary>
    public IScriptGenerator CreateScriptGenerator()
    {
        var generator = GeneratorOfScripts();
        return PayloadFilter.Executable.Read(Settings) is { } filter
            ? new FilteredScriptGenerator(generator, new PayloadFilter(filter, LoggerFactory.CreateLogger<PayloadFilter>()))
            : generator;
    }

    private IScriptGenerator GeneratorOfScripts()
    {
        if (Options.BuildApi is not { } uri)
        {
            return new BuiltinScriptGenerator();
        }
        var build = BuildApiOptions.Load(Settings);
        return new HttpScriptGenerator(build.SkipTlsVerify ? _insecureHttp.Value : _http, uri, build);
    }

    public JobPipeline CreatePipeline(IBackend backend, HostCircuitBreaker? breaker = null, BackendCatalog? backends = null,
        IReadOnlyList<IPayloadReader>? readers = null) =>
        new(Options, backend, CreateScriptGenerator(), Cancellations, Labels, LoggerFactory.CreateLogger<JobPipeline>(), breaker, backends: backends,
            readers: readers);

    /// <summary>The host's processors, with a circuit breaker that stops them taking jobs while the backend is down.</summary>
    /// <param name="backends">The other backends queued jobs may name (fleet mode's Cirrus tasks).</param>
    /// <param name="readers">Readers of payloads that carry more than a travis job.</param>
    public ProcessorPool CreatePool(IJobQueue queue, IBackend backend, BackendCatalog? backends = null, IReadOnlyList<IPayloadReader>? readers = null) =>
        new(queue, CreatePipeline(backend, new HostCircuitBreaker(backend, Options.Breaker, LoggerFactory.CreateLogger<HostCircuitBreaker>()), backends, readers),
            PoolSizeFor(backend), LoggerFactory.CreateLogger<ProcessorPool>());

    /// <summary><c>WORKER_POOL_SIZE</c>, but no more processors than the backend has machines for (saying so).</summary>
    private int PoolSizeFor(IBackend backend)
    {
        if (backend is not IMachineLimit limit || Options.ProcessorCount <= limit.MaxConcurrentJobs)
        {
            return Options.ProcessorCount;
        }
        LoggerFactory.CreateLogger("run").LogWarning("WORKER_POOL_SIZE={PoolSize} is more than {Reason}: {Processors} processors",
            Options.ProcessorCount, limit.MachineLimitReason, limit.MaxConcurrentJobs);
        return limit.MaxConcurrentJobs;
    }

    public void Dispose()
    {
        // Flushes what the process has not sent yet: a `worker exec` ends right after its job.
        if (_owner)
        {
            Telemetry.Dispose();
        }
        if (_ownsLoggers)
        {
            LoggerFactory.Dispose();
        }
        _http.Dispose();
        if (_insecureHttp.IsValueCreated)
        {
            _insecureHttp.Value.Dispose();
        }
    }
}
