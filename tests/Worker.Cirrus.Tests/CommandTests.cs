using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Tests.Fakes;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

/// <summary>
/// The real <c>worker</c> executable's <c>cirrus run</c> and <c>cirrus pause</c> against the fake
/// server, with the fake agent in the agent cache its environment points at.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CommandTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("cirrus-command-").FullName;
    private readonly List<WorkerProcess> _processes = [];

    [Fact]
    public async Task Cirrus_run_runs_a_none_task_with_the_agents_command_line_and_cirrus_hears_register_poll_started_stopped()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var agent = InstallAgent();
        var file = WorkerFile(server);
        server.Service.StartTask(SessionHarness.NoneTask("5151"));

        var worker = Start("cirrus", "run", "-f", file);
        await worker.UntilAsync(() => server.Service.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");

        Assert.Equal(["Register", "Poll"], server.Service.Methods.Take(2));
        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], server.Service.MethodsBesidesPoll);
        Assert.Equal(["agent", "-api-endpoint", server.Endpoint, "-server-token", "server-5151", "-client-token", "client-5151", "-task-id", "5151"],
            agent.Arguments.Take(9));
        Assert.DoesNotContain("server-5151", worker.Stderr + worker.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("client-5151", worker.Stderr + worker.Stdout, StringComparison.Ordinal);

        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromMinutes(1)));
    }

    [Theory]
    [InlineData("mac-mini-07.ci.example.com", "mac-mini-07.ci.example.com")]
    [InlineData("mac-mini-07.local", "mac-mini-07")]
    public async Task Without_a_name_cirrus_run_registers_under_the_full_host_name_as_cirrus_cli_does(string hostName, string workerName)
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var file = Path.Combine(_root, "worker.yml");
        File.WriteAllText(file, $"token: registration-token-1\nrpc:\n  endpoint: {server.Endpoint}\n");

        var worker = StartUnderHostName(hostName, "cirrus", "run", "-f", file);
        await worker.UntilAsync(() => server.Service.CallsTo("Poll").Count >= 1, "the worker polls");

        var labels = ((RegisterRequest)server.Service.CallsTo("Register")[0].Request).WorkerInfo.Labels;
        Assert.Equal(workerName, labels["name"]);
        Assert.Equal(hostName, labels["hostname"]);
        Assert.Equal(workerName, server.Service.CallsTo("Poll")[0].Header("worker-name"));
    }

    [Fact]
    public async Task Cirrus_pause_wait_returns_only_once_no_task_runs()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var agent = InstallAgent(waitForRelease: true);
        var file = WorkerFile(server);
        server.Service.StartTask(SessionHarness.NoneTask("5252"));
        var worker = Start("cirrus", "run", "-f", file);
        await worker.UntilAsync(() => server.Service.CallsTo("TaskStarted").Count == 1 && agent.Started, "the task runs");

        var pause = Start("cirrus", "pause", "--wait", "-f", file);
        await Eventually.TrueAsync(() => server.Service.CallsTo("QueryRunningTasks").Count >= 3, "pause asked three times what runs",
            gaveUp: () => pause.HasExited, explain: () => pause.Stderr);
        Assert.True(server.Service.Disabled);
        Assert.False(pause.HasExited);

        agent.Release();
        Assert.Equal(0, await pause.WaitAsync(TimeSpan.FromMinutes(1)));
        var stopped = server.Service.CallsTo("TaskStopped").Single().At;
        Assert.True(server.Service.CallsTo("QueryRunningTasks")[^1].At > stopped, "the last question came after the task stopped");
        Assert.Empty(server.Service.RunningTasks);
    }

    [Fact]
    public async Task Sigterm_drains_cirrus_run_disabled_at_cirrus_and_its_next_start_enables_it_again()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var agent = InstallAgent(waitForRelease: true);
        var file = WorkerFile(server);
        server.Service.StartTask(SessionHarness.NoneTask("5353"));
        var worker = Start("cirrus", "run", "-f", file);
        await worker.UntilAsync(() => server.Service.CallsTo("TaskStarted").Count == 1 && agent.Started, "the task runs");

        worker.Signal("TERM");
        await worker.UntilAsync(() => server.Service.Disabled, "the worker disabled itself at Cirrus");
        var polls = server.Service.CallsTo("Poll").Count;
        await worker.UntilAsync(() => server.Service.CallsTo("Poll").Count > polls, "the draining worker still polls");
        Assert.Empty(server.Service.CallsTo("TaskStopped"));

        agent.Release();
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromMinutes(1)));
        // QueryRunningTasks: the drain asks whether an operator paused the worker already.
        Assert.Equal(["Register", "TaskStarted", "QueryRunningTasks", "UpdateStatus", "TaskStopped"], server.Service.MethodsBesidesPoll);
        Assert.Empty(server.Service.CallsTo("TaskFailed"));

        var next = Start("cirrus", "run", "-f", file);
        await next.UntilAsync(() => !server.Service.Disabled && server.Service.CallsTo("UpdateStatus").Count == 2, "the next start enabled the worker");
        Assert.False(((UpdateStatusRequest)server.Service.CallsTo("UpdateStatus")[^1].Request).Disabled);
    }

    [Fact]
    public async Task A_worker_the_operator_paused_stays_paused_through_a_drain_and_the_next_start()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var file = WorkerFile(server);
        Assert.Equal(0, await Start("cirrus", "pause", "-f", file).WaitAsync(TimeSpan.FromMinutes(1)));
        var first = Start("cirrus", "run", "-f", file);
        await first.UntilAsync(() => server.Service.CallsTo("Poll").Count >= 1, "the worker polls");

        first.Signal("TERM");
        Assert.Equal(0, await first.WaitAsync(TimeSpan.FromMinutes(1)));
        var polls = server.Service.CallsTo("Poll").Count;
        var next = Start("cirrus", "run", "-f", file);
        await next.UntilAsync(() => server.Service.CallsTo("Poll").Count >= polls + 3, "the next start polled three times");

        Assert.True(server.Service.Disabled, "the worker is still paused");
        Assert.DoesNotContain(server.Service.CallsTo("UpdateStatus"), c => !((UpdateStatusRequest)c.Request).Disabled);
    }

    [Fact]
    public async Task The_start_after_a_drain_polls_while_cirrus_refuses_to_enable_it_and_enables_it_once_cirrus_does()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var file = WorkerFile(server);
        var first = Start("cirrus", "run", "-f", file);
        await first.UntilAsync(() => server.Service.CallsTo("Poll").Count >= 1, "the worker polls");
        first.Signal("TERM");
        Assert.Equal(0, await first.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.True(server.Service.Disabled);

        server.Service.Fail("UpdateStatus", times: 3);
        var polls = server.Service.CallsTo("Poll").Count;
        var next = Start("cirrus", "run", "-f", file);

        // The retries of the refused UpdateStatus take seconds; the start used to wait for them before polling.
        await next.UntilAsync(() => server.Service.CallsTo("Poll").Count > polls, "the next start polls");
        Assert.True(server.Service.Disabled, "the worker polled while Cirrus still refused to enable it");
        await next.UntilAsync(() => !server.Service.Disabled, "the next start enabled the worker once Cirrus took the status");
        Assert.Equal(4, server.Service.CallsTo("UpdateStatus").Count(c => !((UpdateStatusRequest)c.Request).Disabled));
    }

    [Fact]
    public async Task A_drain_mark_written_before_marks_named_upstreams_still_enables_the_worker()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var file = WorkerFile(server);
        Assert.Equal(0, await Start("cirrus", "pause", "-f", file).WaitAsync(TimeSpan.FromMinutes(1)));
        // What a drain of an earlier version left: the time, for every upstream.
        var name = File.ReadAllLines(file).Single(l => l.StartsWith("name: ", StringComparison.Ordinal))["name: ".Length..];
        Directory.CreateDirectory(Path.Combine(_root, "base", "cirrus"));
        File.WriteAllText(Path.Combine(_root, "base", "cirrus", name + ".disabled-by-drain"), DateTimeOffset.UtcNow.ToString("O"));

        var worker = Start("cirrus", "run", "-f", file);

        await worker.UntilAsync(() => !server.Service.Disabled, "the start enabled the worker");
    }

    [Fact]
    public async Task Shutdown_from_cirrus_lets_the_running_task_finish_then_cirrus_run_exits_0()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        var agent = InstallAgent(waitForRelease: true);
        server.Service.StartTask(SessionHarness.NoneTask("5454"));
        var worker = Start("cirrus", "run", "-f", WorkerFile(server));
        await worker.UntilAsync(() => server.Service.CallsTo("TaskStarted").Count == 1 && agent.Started, "the task runs");

        server.Service.Shutdown = true;
        await worker.UntilAsync(() => (worker.Stderr + worker.Stdout).Contains("Cirrus asked this worker to shut down", StringComparison.Ordinal),
            "the worker heard the shutdown");
        Assert.False(worker.HasExited);
        Assert.Empty(server.Service.CallsTo("TaskStopped"));

        agent.Release();
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], server.Service.MethodsBesidesPoll);
    }

    [Fact]
    public async Task Sigterm_with_cirrus_gone_and_nothing_running_exits_within_the_disable_budget()
    {
        var server = await FakeCirrusServer.StartAsync();
        var worker = Start("cirrus", "run", "-f", WorkerFile(server));
        await worker.UntilAsync(() => server.Service.CallsTo("Poll").Count >= 1, "the worker polls");
        await server.DisposeAsync();

        worker.Signal("TERM");

        // The retries alone would go on for 15 minutes.
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(90)));
        Assert.Contains("Could not disable the worker", worker.Stderr + worker.Stdout, StringComparison.Ordinal);
    }

    private FakeAgent InstallAgent(bool waitForRelease = false) =>
        FakeAgent.InstallInCache(new AgentBinaries(Path.Combine(_root, "cache"), "http://127.0.0.1:9/{version}", new HttpClient()),
            AgentVersion.Default, waitForRelease: waitForRelease);

    private string WorkerFile(FakeCirrusServer server)
    {
        var path = Path.Combine(_root, "worker.yml");
        File.WriteAllText(path, $"token: registration-token-1\nname: worker-{Guid.NewGuid():N}\nrpc:\n  endpoint: {server.Endpoint}\n");
        return path;
    }

    private WorkerProcess Start(params string[] args) => StartUnderHostName(null, args);

    private WorkerProcess StartUnderHostName(string? hostName, params string[] args)
    {
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_root, "base"),
            ["XDG_CACHE_HOME"] = Path.Combine(_root, "cache"),
            ["WORKER_CIRRUS_AGENT_URL"] = "http://127.0.0.1:9/{version}",
        };
        var process = WorkerProcess.StartUnderHostName(hostName, env, _root, args);
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
