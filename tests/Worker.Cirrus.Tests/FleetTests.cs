using Worker.Amqp.Tests;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Tests.Fakes;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

/// <summary>
/// Fleet mode with the real executable: <c>worker cirrus bridge</c> against the fake Cirrus server,
/// <c>worker run</c> hosts on the local backend, all on a real RabbitMQ. Each test has a job queue
/// and bridge name of its own on the shared broker.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FleetTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>, IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("cirrus-fleet-").FullName;
    private readonly string _queue = $"cirrus-fleet-{Guid.NewGuid():N}";
    private readonly List<WorkerProcess> _processes = [];

    [Fact]
    public async Task Twenty_tasks_on_two_hosts_one_killed_midway_each_get_task_stopped_exactly_once()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var agent = InstallAgent();
        var file = WorkerFile(server, slots: 20);
        var ids = Enumerable.Range(1, 20).Select(i => (7000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        foreach (var id in ids)
        {
            server.Service.StartTask(SessionHarness.NoneTask(id, ("slots", 1)));
        }
        var bridge = StartBridge(file);
        var hostA = StartHost("a");
        var hostB = StartHost("b");

        // Both hosts run their three; the agents wait for their release.
        await bridge.UntilAsync(() => server.Service.CallsTo("TaskStarted").Count == 6, "six tasks started", TimeSpan.FromMinutes(2));
        await bridge.UntilAsync(() => server.Service.CallsTo("Poll").Any(p => ((PollRequest)p.Request).RunningTasks.Count == 20), "a poll counts all twenty");
        var poll = (PollRequest)server.Service.CallsTo("Poll").First(p => ((PollRequest)p.Request).RunningTasks.Count == 20).Request;
        Assert.Equal(ids.Order(), poll.RunningTasks.Order());
        Assert.Equal(20, poll.ResourcesInUse["slots"]);
        hostA.Kill();
        Assert.Empty(server.Service.CallsTo("TaskStopped"));

        agent.Release();
        await bridge.UntilAsync(() => server.Service.CallsTo("TaskStopped").Count == 20, "every task was reported stopped", TimeSpan.FromMinutes(3));

        Assert.Equal(ids.Order(), server.Service.CallsTo("TaskStopped").Select(c => c.Header("org.cirruslabs.task-id")).Order());
        Assert.Equal(ids.Order(), server.Service.CallsTo("TaskStarted").Select(c => c.Header("org.cirruslabs.task-id")).Order());
        Assert.Empty(server.Service.CallsTo("TaskFailed"));
        await bridge.UntilAsync(() => server.Service.CallsTo("Poll") is [.., { Failed: false, Request: PollRequest { RunningTasks.Count: 0 } }],
            "a poll says nothing runs");
        Assert.False(hostB.HasExited);
        var forwarded = Directory.GetFiles(Path.Combine(_root, "bridge"), "*.forwarded.json", SearchOption.AllDirectories);
        Assert.Equal("[]", File.ReadAllText(Assert.Single(forwarded)));
    }

    [Fact]
    public async Task A_bridge_killed_while_its_tasks_run_counts_them_again_when_restarted_and_reports_each_stopped_once()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var agent = InstallAgent();
        var file = WorkerFile(server, slots: 4);
        string[] ids = ["8101", "8102", "8103"];
        foreach (var id in ids)
        {
            server.Service.StartTask(SessionHarness.NoneTask(id, ("slots", 1)));
        }
        var bridge = StartBridge(file);
        StartHost("c");
        await bridge.UntilAsync(() => server.Service.CallsTo("TaskStarted").Count == 3, "the tasks started", TimeSpan.FromMinutes(2));
        bridge.Kill();
        await bridge.WaitAsync(TimeSpan.FromMinutes(1));
        var pollsBefore = server.Service.CallsTo("Poll").Count;

        var restarted = StartBridge(file);
        await restarted.UntilAsync(() => server.Service.CallsTo("Poll").Skip(pollsBefore).Any(p => !p.Failed), "the restarted bridge polled");
        var poll = (PollRequest)server.Service.CallsTo("Poll").Skip(pollsBefore).First(p => !p.Failed).Request;
        Assert.Equal(ids, poll.RunningTasks.Order());
        Assert.Equal(3, poll.ResourcesInUse["slots"]);

        agent.Release();
        await restarted.UntilAsync(() => server.Service.CallsTo("TaskStopped").Count == 3, "every task was reported stopped", TimeSpan.FromMinutes(2));
        Assert.Equal(ids, server.Service.CallsTo("TaskStopped").Select(c => c.Header("org.cirruslabs.task-id")).Order());
        Assert.Equal(3, server.Service.CallsTo("TaskStarted").Count); // not again after the restart
        Assert.Empty(server.Service.CallsTo("TaskFailed"));
        await restarted.UntilAsync(() => server.Service.CallsTo("Poll") is [.., { Failed: false, Request: PollRequest { RunningTasks.Count: 0 } }],
            "a poll says nothing runs");
        Assert.Equal(3, server.Service.CallsTo("TaskStopped").Count);
    }

    [Fact]
    public async Task A_stop_from_cirrus_cancels_the_job_on_its_host_and_a_host_that_runs_no_cirrus_tasks_fails_them_naming_the_setting()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var agent = InstallAgent(runUntilKilled: true);
        var file = WorkerFile(server, slots: 4);
        server.Service.StartTask(SessionHarness.NoneTask("8201", ("slots", 1)));
        var bridge = StartBridge(file);
        var hostD = StartHost("d");
        await bridge.UntilAsync(() => server.Service.CallsTo("TaskStarted").Count == 1 && agent.Started, "the task runs", TimeSpan.FromMinutes(2));

        server.Service.StopTask("8201");
        await bridge.UntilAsync(() => server.Service.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(1));
        Assert.Equal("INT", agent.EndedBy);
        Assert.Empty(server.Service.CallsTo("TaskFailed"));

        StartHost("e", fleetBackends: "");
        hostD.Kill(); // only the host that runs no Cirrus tasks is left
        server.Service.StartTask(SessionHarness.NoneTask("8202", ("slots", 1)));
        await bridge.UntilAsync(() => server.Service.CallsTo("TaskStopped").Count == 2, "the second task was reported stopped", TimeSpan.FromMinutes(1));
        var failed = (TaskFailedRequest)server.Service.CallsTo("TaskFailed").Single().Request;
        Assert.Contains("errored", failed.Message, StringComparison.Ordinal);
        Assert.Equal("8202", server.Service.CallsTo("TaskFailed").Single().Header("org.cirruslabs.task-id"));
    }

    private FakeAgent InstallAgent(bool runUntilKilled = false) =>
        FakeAgent.InstallInCache(new AgentBinaries(Path.Combine(_root, "cache"), "http://127.0.0.1:9/{version}", new HttpClient()),
            AgentVersion.Default, runUntilKilled: runUntilKilled, waitForRelease: !runUntilKilled);

    private string WorkerFile(FakeCirrusServer server, int slots)
    {
        var path = Path.Combine(_root, "worker.yml");
        File.WriteAllText(path,
            $"token: registration-token-1\nname: bridge-{Guid.NewGuid():N}\nrpc:\n  endpoint: {server.Endpoint}\nresources:\n  slots: {slots}\n");
        return path;
    }

    private Dictionary<string, string> Env(string baseDir) => new()
    {
        ["WORKER_QUEUE_TYPE"] = "amqp",
        ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
        ["WORKER_QUEUE_NAME"] = _queue,
        ["WORKER_BASE_DIR"] = Path.Combine(_root, baseDir),
        ["XDG_CACHE_HOME"] = Path.Combine(_root, "cache"),
        ["WORKER_CIRRUS_AGENT_URL"] = "http://127.0.0.1:9/{version}",
    };

    private WorkerProcess StartBridge(string file) => Track(WorkerProcess.Start(Env("bridge"), _root, "cirrus", "bridge", "-f", file));

    private WorkerProcess StartHost(string name, string fleetBackends = "local")
    {
        var env = Env("host-" + name);
        env["WORKER_PROVIDER_NAME"] = "local";
        env["WORKER_POOL_SIZE"] = "3";
        env["WORKER_HOSTNAME"] = "fleet-host-" + name;
        env["WORKER_CIRRUS_FLEET_BACKENDS"] = fleetBackends;
        return Track(WorkerProcess.Start(env, _root, "run"));
    }

    private WorkerProcess Track(WorkerProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls a test class's DisposeAsync, and the workers outlived the run.
    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
        Directory.Delete(_root, recursive: true);
    }
}
