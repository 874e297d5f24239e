using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Worker.Cirrus.Api;
using Worker.Cirrus.Tests.Fakes;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

public class SessionTests
{
    private static readonly string[] WorkerHeaders = ["registration-token", "session-token", "worker-name"];

    [Fact]
    public async Task Register_carries_no_metadata_and_every_later_call_carries_the_workers()
    {
        await using var h = await SessionHarness.CreateAsync("labels:\n  pool: fast\nresources:\n  cpu: 4\n");
        h.Start();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count >= 1, "the worker polled");

        var register = Assert.Single(h.Cirrus.CallsTo("Register"));
        Assert.All(WorkerHeaders, name => Assert.Null(register.Header(name)));
        var body = (RegisterRequest)register.Request;
        Assert.Equal("registration-token-1", body.RegistrationToken);
        Assert.Equal(h.Config.Name, body.WorkerInfo.Labels["name"]);
        Assert.Equal("test-host", body.WorkerInfo.Labels["hostname"]);
        Assert.Equal(HostPlatform.Os, body.WorkerInfo.Labels["os"]);
        Assert.Equal(HostPlatform.Arch, body.WorkerInfo.Labels["arch"]);
        Assert.True(body.WorkerInfo.Labels.ContainsKey("version"));
        Assert.Equal("fast", body.WorkerInfo.Labels["pool"]);
        Assert.Equal(4, body.WorkerInfo.ResourcesTotal["cpu"]);

        var poll = h.Cirrus.CallsTo("Poll")[0];
        Assert.Equal("registration-token-1", poll.Header("registration-token"));
        Assert.Equal("session-1", poll.Header("session-token"));
        Assert.Equal(h.Config.Name, poll.Header("worker-name"));
        Assert.Equal(body.WorkerInfo, ((PollRequest)poll.Request).WorkerInfo);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_upstream_that_is_down_does_not_hold_up_the_polls_of_the_next(bool refusesConnections)
    {
        // A port that refuses, or one that takes the connection and never answers (its backlog accepts it).
        using var down = new TcpListener(IPAddress.Loopback, 0);
        down.Start();
        var endpoint = $"http://127.0.0.1:{((IPEndPoint)down.LocalEndpoint).Port}";
        if (refusesConnections)
        {
            down.Stop();
        }
        await using var h = await SessionHarness.CreateAsync(upstreamsBefore: [endpoint]);
        h.Cirrus.PollIntervalSeconds = 1;

        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count(p => !p.Failed) >= 3, "the second upstream was polled three times",
            TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Two_pools_on_one_cirrus_each_hear_only_of_their_own_running_tasks()
    {
        await using var h = await SessionHarness.CreateAsync(secondPoolToken: "registration-token-2");
        h.Cirrus.PollIntervalSeconds = 1;
        var agent = h.InstallAgent(waitForRelease: true);
        h.Cirrus.StartTask(SessionHarness.NoneTask("4343"));
        h.Start();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStarted").Count == 1, "the task started");
        var from = h.Cirrus.CallsTo("Poll").Count;
        // Each pool's session polls a few times while the task runs.
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Skip(from).Select(p => p.Header("session-token")).Distinct().Count() == 2
            && h.Cirrus.CallsTo("Poll").Count >= from + 6, "both pools polled while the task ran", TimeSpan.FromSeconds(20));

        var reporting = h.Cirrus.CallsTo("Poll").Skip(from)
            .Where(p => ((PollRequest)p.Request).RunningTasks.Contains("4343"))
            .Select(p => p.Header("session-token")).Distinct().ToList();
        agent.Release();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");

        Assert.Single(reporting); // the pool that gave the task; the other never heard of it
    }

    [Fact]
    public async Task A_none_task_runs_the_agent_and_cirrus_hears_register_poll_started_stopped_in_order()
    {
        await using var h = await SessionHarness.CreateAsync();
        var agent = h.InstallAgent(exitCode: 0);
        h.Cirrus.StartTask(SessionHarness.NoneTask("4242"));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");

        Assert.Equal(["Register", "Poll"], h.Cirrus.Methods.Take(2));
        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.MethodsBesidesPoll);
        Assert.Equal(["agent", "-api-endpoint", h.Server.Endpoint, "-server-token", "server-4242", "-client-token", "client-4242", "-task-id", "4242",
            "-pre-created-working-dir", agent.WorkingDirectory], agent.Arguments);
        Assert.StartsWith(h.LocalRoot + "/", agent.WorkingDirectory, StringComparison.Ordinal);
        h.AssertNoSecretLogged("4242");
        foreach (var call in h.Cirrus.CallsTo("TaskStarted").Concat(h.Cirrus.CallsTo("TaskStopped")))
        {
            Assert.Equal("4242", call.Header("org.cirruslabs.task-id"));
            Assert.Equal("client-4242", call.Header("org.cirruslabs.client-secret"));
            Assert.Equal("session-1", call.Header("session-token"));
            Assert.Equal(h.Config.Name, call.Header("worker-name"));
            Assert.Equal(new TaskIdentification { TaskId = 4242, Secret = "client-4242" }, call.Request);
        }
        Assert.Empty(h.Cirrus.CallsTo("TaskFailed"));
        await Eventually.TrueAsync(() => h.Session.Ledger.RunningTaskIds.Count == 0, "the task is no longer counted");
        Assert.Equal(0, h.LiveMachines);
    }

    [Fact]
    public async Task An_agent_that_exits_1_gives_task_failed_then_task_stopped_and_nothing_is_left()
    {
        await using var h = await SessionHarness.CreateAsync();
        h.InstallAgent(exitCode: 1);
        h.Cirrus.StartTask(SessionHarness.NoneTask("7"));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");

        Assert.Equal(["Register", "TaskStarted", "TaskFailed", "TaskStopped"], h.Cirrus.MethodsBesidesPoll);
        var failed = (TaskFailedRequest)h.Cirrus.CallsTo("TaskFailed")[0].Request;
        Assert.Equal("the agent exited with code 1", failed.Message);
        Assert.Equal("7", h.Cirrus.CallsTo("TaskFailed")[0].Header("org.cirruslabs.task-id"));
        await Eventually.TrueAsync(() => h.Session.Ledger.RunningTaskIds.Count == 0, "the task is no longer counted");
        Assert.Equal(0, h.LiveMachines);
        Assert.Empty(Directory.GetFileSystemEntries(h.LocalRoot));
    }

    [Fact]
    public async Task Running_tasks_and_resources_in_use_are_true_at_every_poll_and_a_stop_interrupts_the_agent()
    {
        await using var h = await SessionHarness.CreateAsync("resources:\n  cpu: 4\n");
        var agent = h.InstallAgent(runUntilKilled: true);
        h.Cirrus.StartTask(SessionHarness.NoneTask("100", ("cpu", 2.5)));
        h.Start();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStarted").Count == 1 && agent.Started, "the agent started");
        var pollsBefore = h.Cirrus.CallsTo("Poll").Count;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count >= pollsBefore + 2, "two polls while the task runs");

        h.Cirrus.StopTask("100");
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the stopped task was reported");
        Assert.Equal("INT", agent.EndedBy);
        var pollsAfterStop = h.Cirrus.CallsTo("Poll").Count;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count >= pollsAfterStop + 1, "a poll after the task ended");

        // Every poll tells the truth: the task is listed with its resources exactly while it is held.
        var stoppedAt = h.Cirrus.Calls.ToList().FindIndex(c => c.Method == "TaskStopped");
        var startedAt = h.Cirrus.Calls.ToList().FindIndex(c => c.Method == "TaskStarted");
        var polls = h.Cirrus.Calls.Select((c, i) => (c, i)).Where(p => p.c.Method == "Poll").ToList();
        foreach (var (call, index) in polls)
        {
            var request = (PollRequest)call.Request;
            if (index > startedAt && index < stoppedAt)
            {
                Assert.Equal(["100"], request.RunningTasks);
                Assert.Equal(2.5, request.ResourcesInUse["cpu"]);
#pragma warning disable CS0612
                Assert.Equal([100L], request.OldRunningTasks);
#pragma warning restore CS0612
            }
            else if (index > stoppedAt)
            {
                Assert.Empty(request.RunningTasks);
                Assert.Empty(request.ResourcesInUse);
            }
        }
        Assert.Empty(h.Cirrus.CallsTo("TaskFailed"));
        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.MethodsBesidesPoll);
    }

    [Fact]
    public async Task A_task_the_security_rules_refuse_gets_task_failed_naming_the_rule_and_task_stopped_and_is_never_counted()
    {
        await using var h = await SessionHarness.CreateAsync("security:\n  allowed-isolations:\n    container: {}\n");
        h.InstallAgent();
        h.Cirrus.StartTask(SessionHarness.NoneTask("55"));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the refused task was reported stopped");
        var pollsNow = h.Cirrus.CallsTo("Poll").Count;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count > pollsNow, "another poll");

        Assert.Equal(["Register", "TaskFailed", "TaskStopped"], h.Cirrus.MethodsBesidesPoll);
        Assert.Equal("this Persistent Worker's security settings refuse the task: \"none\" isolation is not allowed by security.allowed-isolations (allowed: container)",
            ((TaskFailedRequest)h.Cirrus.CallsTo("TaskFailed")[0].Request).Message);
        Assert.All(h.Cirrus.CallsTo("Poll"), p => Assert.Empty(((PollRequest)p.Request).RunningTasks));
        Assert.Equal(0, h.LiveMachines);
    }

    [Fact]
    public async Task A_task_whose_agent_cant_be_had_fails_is_stopped_and_stops_being_counted()
    {
        await using var h = await SessionHarness.CreateAsync();
        var task = SessionHarness.NoneTask("66");
        task.CliVersion = "9.9.9";
        h.Cirrus.StartTask(task);
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");
        var pollsNow = h.Cirrus.CallsTo("Poll").Count;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count > pollsNow, "another poll");

        // Taken, so started (cirrus-cli fetches the agent after TaskStarted too), then failed.
        Assert.Equal(["Register", "TaskStarted", "TaskFailed", "TaskStopped"], h.Cirrus.MethodsBesidesPoll);
        Assert.StartsWith("The build script could not be generated: the Cirrus agent is not in ", ((TaskFailedRequest)h.Cirrus.CallsTo("TaskFailed")[0].Request).Message, StringComparison.Ordinal);
        Assert.Contains("cirrus-9.9.9-", ((TaskFailedRequest)h.Cirrus.CallsTo("TaskFailed")[0].Request).Message, StringComparison.Ordinal);
        Assert.Empty(((PollRequest)h.Cirrus.CallsTo("Poll")[^1].Request).RunningTasks);
        Assert.Empty(h.Session.Ledger.RunningTaskIds);
    }

    [Fact]
    public async Task A_second_task_that_does_not_fit_is_refused_while_the_first_runs_on()
    {
        await using var h = await SessionHarness.CreateAsync();
        var agent = h.InstallAgent(runUntilKilled: true);
        h.Cirrus.StartTask(SessionHarness.NoneTask("1"));
        h.Start();
        await Eventually.TrueAsync(() => agent.Started, "the first agent started");

        h.Cirrus.StartTask(SessionHarness.NoneTask("2"));
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the second task was reported stopped");

        var failed = h.Cirrus.CallsTo("TaskFailed").Single();
        Assert.Equal("2", failed.Header("org.cirruslabs.task-id"));
        Assert.Equal("this Persistent Worker can't take the task now: this worker runs one task at a time (no resources are configured) and one is running",
            ((TaskFailedRequest)failed.Request).Message);
        Assert.Equal(["1"], h.Session.Ledger.RunningTaskIds);
        Assert.Null(agent.EndedBy);
    }

    [Fact]
    public async Task A_task_sent_again_while_it_runs_is_not_started_twice()
    {
        await using var h = await SessionHarness.CreateAsync();
        var agent = h.InstallAgent(runUntilKilled: true);
        h.Cirrus.StartTask(SessionHarness.NoneTask("3"));
        h.Start();
        await Eventually.TrueAsync(() => agent.Started, "the agent started");

        h.Cirrus.StartTask(SessionHarness.NoneTask("3"));
        var polls = h.Cirrus.CallsTo("Poll").Count;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count >= polls + 2, "the duplicate was polled and handled");

        Assert.Equal(["Register", "TaskStarted"], h.Cirrus.MethodsBesidesPoll);
    }

    [Fact]
    public async Task A_task_id_that_is_not_numeric_goes_in_the_metadata_with_an_empty_body()
    {
        await using var h = await SessionHarness.CreateAsync();
        h.InstallAgent();
        h.Cirrus.StartTask(SessionHarness.NoneTask("task-abc"));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");
        var started = h.Cirrus.CallsTo("TaskStarted").Single();
        Assert.Equal("task-abc", started.Header("org.cirruslabs.task-id"));
        Assert.Equal(new TaskIdentification(), started.Request);
    }

    [Fact]
    public async Task An_unavailable_server_is_retried_until_it_answers()
    {
        await using var h = await SessionHarness.CreateAsync();
        h.Cirrus.Fail("Register", 3);
        h.Cirrus.Fail("Poll", 2);
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count >= 3, "the worker polled past the outage");
        Assert.Equal(4, h.Cirrus.CallsTo("Register").Count);
        Assert.True(h.Client.IsRegistered);
        Assert.Equal("session-1", h.Cirrus.CallsTo("Poll")[^1].Header("session-token"));
    }

    [Fact]
    public async Task A_session_the_server_no_longer_knows_is_registered_again()
    {
        await using var h = await SessionHarness.CreateAsync();
        h.Start();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count >= 1, "the worker polled");

        h.Cirrus.ExpireSessions();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Any(p => p.Header("session-token") == "session-2"), "a poll on a new session");
        Assert.Equal(2, h.Cirrus.CallsTo("Register").Count);

        h.Cirrus.Fail("Poll", 1, StatusCode.Unauthenticated);
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Any(p => p.Header("session-token") == "session-3"), "a poll on a third session");
    }

    [Fact]
    public async Task Shutdown_from_cirrus_ends_the_session()
    {
        await using var h = await SessionHarness.CreateAsync();
        h.Cirrus.Shutdown = true;
        h.Start();

        Assert.Equal(Session.CirrusWorkerSession.End.ShutdownRequested, await h.Running!.WaitAsync(Eventually.DefaultPatience));
    }

    [Fact]
    public async Task Stopping_during_a_slow_answer_ends_the_session()
    {
        await using var h = await SessionHarness.CreateAsync();
        h.Cirrus.Slow("Poll", TimeSpan.FromMinutes(10));
        h.Start();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count == 1, "a poll is under way");

        await h.DisposeAsync();

        Assert.Equal(Session.CirrusWorkerSession.End.Stopped, await h.Running!);
    }
}
