using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Config;
using Worker.Cirrus.Jobs;
using Worker.Cirrus.Session;
using Worker.Cirrus.Standby;
using Worker.Composition;
using Worker.Core.Backends;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Scripts;
using Worker.Docker;
using Worker.Docker.Tests;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests.Fakes;

/// <summary>
/// A worker session against a fresh fake Cirrus server whose tasks run as jobs of the real pipeline:
/// isolation none on the local backend (a fresh directory under its BASE_DIR), container on the real
/// Docker engine under a fleet of its own. Every log line of the session, the pipeline and the tasks
/// is kept in <see cref="LogLines"/>.
/// </summary>
public sealed class SessionHarness : IAsyncDisposable
{
    public static readonly RetryPolicy FastRetries = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));

    private readonly CancellationTokenSource _stop = new();
    private readonly string _root;
    private readonly ListLoggerProvider _log = new();
    private readonly ILoggerFactory _loggers;
    private readonly List<CirrusUpstreamClient> _otherClients;
    private int _disposed;

    private SessionHarness(FakeCirrusServer server, CirrusWorkerConfig config, string root, string agentUrl, Func<DockerOptions, DockerOptions>? docker,
        VmStandIn? vm, (string Key, string Value)[] vmSettings)
    {
        Server = server;
        Config = config;
        _root = root;
        _loggers = LoggerFactory.Create(b => b.AddProvider(_log).SetMinimumLevel(LogLevel.Trace));
        Agents = new AgentBinaries(Path.Combine(root, "cache"), agentUrl, new HttpClient());
        Options = new WorkerOptions
        {
            BaseDirectory = Path.Combine(root, "base"),
            HardLimit = TimeSpan.FromMinutes(2),
            FlushInterval = TimeSpan.FromMilliseconds(50),
            Startup = TimeSpan.FromSeconds(60),
            Upload = TimeSpan.FromSeconds(60),
            Teardown = TimeSpan.FromSeconds(30),
            Requeues = 0,
        };
        Fleet = DockerEngine.NewFleet();
        var labels = new MachineLabels(Fleet, "test-host", TimeSpan.FromMinutes(5));
        var dockerOptions = (docker ?? (o => o))(DockerOptions);
        var backends = new Dictionary<string, Func<IBackend>>
        {
            ["docker"] = () => new DockerBackend(DockerRegistration.CreateClient(dockerOptions), dockerOptions, labels,
                _loggers.CreateLogger<DockerBackend>(), ownsClient: true),
        };
        if (vm is not null)
        {
            // As `worker cirrus run` makes it: from the settings with what the worker file sets of them.
            backends[vm.Tool] = () => vm.CreateBackend(Options.BaseDirectory, labels, _loggers, CirrusParts.Effective(vm.Settings(vmSettings), config));
        }
        Catalog = new BackendCatalog(backends, "the test's backends");
        var pipeline = new JobPipeline(Options, new LocalBackend(Options, new LocalOptions()), new BuiltinScriptGenerator(), Cancellations, labels,
            _loggers.CreateLogger<JobPipeline>(), backends: Catalog);
        Runner = new PipelineTaskRunner(pipeline, Cancellations, Agents, config.Security, _loggers.CreateLogger("cirrus"));
        // The fake server is the last upstream; any before it retry as `worker cirrus run` makes them.
        Client = new CirrusUpstreamClient(config.Name, config.Upstreams[^1], FastRetries);
        _otherClients = config.Upstreams.SkipLast(1)
            .Select(u => new CirrusUpstreamClient(config.Name, u, logger: _loggers.CreateLogger("cirrus"))).ToList();
        Session = new CirrusWorkerSession(config, [.. _otherClients, Client], Runner, _loggers.CreateLogger<CirrusWorkerSession>(), hostName: "test-host",
            standby: new BackendStandby(Catalog, config.Security, _loggers.CreateLogger("cirrus-standby"),
                prePull: config.TartPrePull is { } prePull ? new TartPrePull(prePull, TartPrePull.TartOf(Catalog), _loggers.CreateLogger("cirrus-standby")) : null));
    }

    public FakeCirrusServer Server { get; }
    public FakeWorkersService Cirrus => Server.Service;
    public CirrusWorkerConfig Config { get; }
    public AgentBinaries Agents { get; }
    public WorkerOptions Options { get; }
    public string Fleet { get; }
    public JobCancellations Cancellations { get; } = new();
    public BackendCatalog Catalog { get; }
    public PipelineTaskRunner Runner { get; }
    public CirrusUpstreamClient Client { get; }
    public CirrusWorkerSession Session { get; }
    public Task<CirrusWorkerSession.End>? Running { get; private set; }

    public static DockerOptions DockerOptions => new()
    {
        EndpointUri = DockerEngine.Endpoint,
        DefaultImage = DockerEngine.Image,
        CpusPerJob = 1,
        MemoryPerJob = 512L << 20,
        PullPolicy = Worker.Core.Images.ImagePullPolicy.Never,
    };

    /// <summary>Where the local backend makes each none task's directory (its "machine").</summary>
    public string LocalRoot => Path.Combine(Options.BaseDirectory, "local");

    /// <summary>The none tasks' machines that exist right now.</summary>
    public int LiveMachines => Directory.Exists(LocalRoot) ? Directory.GetDirectories(LocalRoot).Length : 0;

    public IReadOnlyList<string> LogLines
    {
        get
        {
            lock (_log.Lines)
            {
                return [.. _log.Lines];
            }
        }
    }

    /// <param name="yaml">More of the worker file (token, name and rpc.endpoint are set).</param>
    /// <param name="agentUrl">The download template; by default a closed loopback port, so only the cache serves.</param>
    /// <param name="docker">Changes to the Docker backend's settings.</param>
    /// <param name="vm">A stand-in tart or vetu whose backend runs that isolation's tasks, with <paramref name="vmSettings"/> (keys after WORKER_TOOL).</param>
    /// <param name="upstreamsBefore">Endpoints the worker file lists as upstreams before the fake server.</param>
    public static async Task<SessionHarness> CreateAsync(string yaml = "", string agentUrl = "http://127.0.0.1:9/{version}",
        Func<DockerOptions, DockerOptions>? docker = null, VmStandIn? vm = null, string[]? upstreamsBefore = null,
        string? secondPoolToken = null, params (string Key, string Value)[] vmSettings)
    {
        var server = await FakeCirrusServer.StartAsync();
        var root = Directory.CreateTempSubdirectory("cirrus-session-").FullName;
        var upstreams = upstreamsBefore is null && secondPoolToken is null
            ? $"token: registration-token-1\nrpc:\n  endpoint: {server.Endpoint}\n"
            : "upstreams:\n" + string.Concat((upstreamsBefore ?? []).Append(server.Endpoint).Select(e => $"  - token: registration-token-1\n    endpoint: {e}\n"))
              // A second pool on the same Cirrus: its endpoint, a token of its own.
              + (secondPoolToken is null ? "" : $"  - token: {secondPoolToken}\n    endpoint: {server.Endpoint}\n");
        var config = CirrusConfigLoader.Parse($"name: worker-{Guid.NewGuid():N}\n{upstreams}{yaml}", "worker.yml", new CirrusFlags());
        return new SessionHarness(server, config, root, agentUrl, docker, vm, vmSettings);
    }

    /// <summary>The fake agent for this host (isolation none), in the cache.</summary>
    public FakeAgent InstallAgent(int exitCode = 0, bool runUntilKilled = false, string version = AgentVersion.Default, bool waitForRelease = false) =>
        FakeAgent.InstallInCache(Agents, version, exitCode, runUntilKilled, waitForRelease);

    /// <summary>The fake agent a VM of <paramref name="tool"/> gets: tart's (on its macOS image) darwin/arm64, vetu's linux on this host's architecture, as cirrus-cli picks them.</summary>
    public FakeAgent InstallVmAgent(string tool, int exitCode = 0, bool waitForRelease = false) =>
        FakeAgent.InstallInCache(Agents, AgentVersion.Default, exitCode, waitForRelease: waitForRelease,
            os: tool == "tart" ? "darwin" : "linux", arch: tool == "tart" ? "arm64" : HostPlatform.Arch);

    public SessionHarness Start()
    {
        Running = Session.RunAsync(_stop.Token);
        return this;
    }

    public static PollResponse.Types.AgentAwareTask NoneTask(string id, params (string Key, double Amount)[] resources) =>
        IsolatedTask(id, new Isolation { None = new Isolation.Types.None() }, resources);

    public static PollResponse.Types.AgentAwareTask IsolatedTask(string id, Isolation isolation, params (string Key, double Amount)[] resources)
    {
        var task = new PollResponse.Types.AgentAwareTask
        {
            TaskId = id,
            ClientSecret = "client-" + id,
            ServerSecret = "server-" + id,
            Isolation = isolation,
        };
        foreach (var (key, amount) in resources)
        {
            task.ResourcesToUse[key] = amount;
        }
        return task;
    }

    /// <summary>Asserts that no log line of the worker shows a secret of these tasks.</summary>
    public void AssertNoSecretLogged(params string[] taskIds)
    {
        foreach (var id in taskIds)
        {
            Assert.DoesNotContain(LogLines, line => line.Contains("client-" + id, StringComparison.Ordinal) || line.Contains("server-" + id, StringComparison.Ordinal));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync();
        Session.CancelTasks();
        if (Running is not null)
        {
            await Running;
        }
        await Session.WhenIdleAsync();
        await Catalog.DisposeAsync();
        Client.Dispose();
        _otherClients.ForEach(c => c.Dispose());
        await Server.DisposeAsync();
        _loggers.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
