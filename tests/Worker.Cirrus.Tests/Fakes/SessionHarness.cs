using Microsoft.Extensions.Logging.Abstractions;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Config;
using Worker.Cirrus.Session;

namespace Worker.Cirrus.Tests.Fakes;

/// <summary>A worker session against a fresh fake Cirrus server, running real (fake) agents for isolation none.</summary>
public sealed class SessionHarness : IAsyncDisposable
{
    public static readonly RetryPolicy FastRetries = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));

    private readonly CancellationTokenSource _stop = new();
    private readonly string _root;
    private int _disposed;

    private SessionHarness(FakeCirrusServer server, CirrusWorkerConfig config, string root, string agentUrl)
    {
        Server = server;
        Config = config;
        _root = root;
        Agents = new AgentBinaries(Path.Combine(root, "cache"), agentUrl, new HttpClient());
        TemporaryRoot = Directory.CreateDirectory(Path.Combine(root, "tmp")).FullName;
        Runner = new AgentProcessRunner(Agents, TemporaryRoot);
        Client = new CirrusUpstreamClient(config.Name, config.Upstreams[0], FastRetries);
        Session = new CirrusWorkerSession(config, [Client], Runner, NullLogger<CirrusWorkerSession>.Instance, hostName: "test-host");
    }

    public FakeCirrusServer Server { get; }

    /// <summary>Where the none tasks' working directories are made ($TMPDIR of the runner).</summary>
    public string TemporaryRoot { get; }
    public FakeWorkersService Cirrus => Server.Service;
    public CirrusWorkerConfig Config { get; }
    public AgentBinaries Agents { get; }
    public AgentProcessRunner Runner { get; }
    public CirrusUpstreamClient Client { get; }
    public CirrusWorkerSession Session { get; }
    public Task<CirrusWorkerSession.End>? Running { get; private set; }

    /// <param name="yaml">More of the worker file (token, name and rpc.endpoint are set).</param>
    /// <param name="agentUrl">The download template; by default a closed loopback port, so only the cache serves.</param>
    public static async Task<SessionHarness> CreateAsync(string yaml = "", string agentUrl = "http://127.0.0.1:9/{version}")
    {
        var server = await FakeCirrusServer.StartAsync();
        var root = Directory.CreateTempSubdirectory("cirrus-session-").FullName;
        var config = CirrusConfigLoader.Parse(
            $"token: registration-token-1\nname: worker-{Guid.NewGuid():N}\nrpc:\n  endpoint: {server.Endpoint}\n{yaml}",
            "worker.yml", new CirrusFlags());
        return new SessionHarness(server, config, root, agentUrl);
    }

    public FakeAgent InstallAgent(int exitCode = 0, bool runUntilKilled = false, string version = AgentVersion.Default) =>
        FakeAgent.InstallInCache(Agents, version, exitCode, runUntilKilled);

    public SessionHarness Start()
    {
        Running = Session.RunAsync(_stop.Token);
        return this;
    }

    public static PollResponse.Types.AgentAwareTask NoneTask(string id, params (string Key, double Amount)[] resources)
    {
        var task = new PollResponse.Types.AgentAwareTask
        {
            TaskId = id,
            ClientSecret = "client-" + id,
            ServerSecret = "server-" + id,
            Isolation = new Isolation { None = new Isolation.Types.None() },
        };
        foreach (var (key, amount) in resources)
        {
            task.ResourcesToUse[key] = amount;
        }
        return task;
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
        Client.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}
