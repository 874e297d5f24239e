using Worker.Cirrus.Api;
using Worker.Cirrus.Tests.Fakes;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

/// <summary>
/// What Cirrus hears when a task goes wrong, call by call, and that no machine is left: a boot that
/// fails, a stop while the VM boots, a refused isolation, a server that goes away while the task runs.
/// (An agent that exits 1: <see cref="SessionTests"/>.)
/// </summary>
[Trait("Category", "Integration")]
[Collection(VmGuestCollection.Name)]
public sealed class FaultTests
{
    [Fact]
    public async Task A_vm_that_never_lets_ssh_in_is_reported_started_before_it_is_made_then_failed_and_is_deleted()
    {
        await using var vms = await VmStandIn.StartAsync("vetu");
        vms.Fake.SshdRefuses = true;
        await using var h = await SessionHarness.CreateAsync(vm: vms, vmSettings: ("_BOOT_TIMEOUT", "3s"));
        var agent = h.InstallVmAgent("vetu");
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("9101", VetuIsolation()));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(1));

        // As cirrus-cli: TaskStarted before the machine is made, so Cirrus sees a started task that failed.
        Assert.Equal(["Register", "TaskStarted", "TaskFailed", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        var clone = vms.Fake.CallsOf("clone").Single();
        Assert.True(h.Cirrus.CallsTo("TaskStarted").Single().At < clone.At, "TaskStarted came before the clone");
        var vm = clone.Arguments[2];
        Assert.Equal($"The job could not be run: VM {vm}: no SSH login within WORKER_VETU_BOOT_TIMEOUT (3s)",
            ((TaskFailedRequest)h.Cirrus.CallsTo("TaskFailed")[0].Request).Message);
        Assert.Contains($"delete {vm}", vms.Fake.Calls.Select(c => c.Command));
        Assert.Empty(vms.Fake.ClonedVms);
        Assert.False(agent.Started);
        await Eventually.TrueAsync(() => h.Session.Ledger.RunningTaskIds.Count == 0, "the task is no longer counted");
    }

    [Fact]
    public async Task A_stop_while_the_vm_boots_deletes_it_and_cirrus_hears_no_task_failed()
    {
        await using var vms = await VmStandIn.StartAsync("vetu");
        vms.Fake.BootDelay = TimeSpan.FromMinutes(5);
        await using var h = await SessionHarness.CreateAsync(vm: vms);
        var agent = h.InstallVmAgent("vetu");
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("9102", VetuIsolation()));
        h.Start();
        await Eventually.TrueAsync(() => vms.Fake.CallsOf("run").Count == 1, "the VM is booting");

        h.Cirrus.StopTask("9102");
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(1));

        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.Empty(vms.Fake.ClonedVms);
        Assert.Empty(vms.Fake.RunningVms);
        Assert.False(agent.Started);
        await Eventually.TrueAsync(() => h.Session.Ledger.RunningTaskIds.Count == 0, "the task is no longer counted");
    }

    [Fact]
    public async Task A_parallels_task_is_refused_before_anything_exists_naming_why_and_is_never_counted()
    {
        await using var h = await SessionHarness.CreateAsync();
        var agent = h.InstallAgent();
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("9103", new Isolation { Parallels = new Isolation.Types.Parallels { Image = "macos", Platform = Platform.Darwin } }));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");
        var polls = h.Cirrus.CallsTo("Poll").Count;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count > polls, "another poll");

        Assert.Equal(["Register", "TaskFailed", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.Equal("this Persistent Worker's security settings refuse the task: \"parallels\" isolation is not supported by this worker; use tart for macOS VMs",
            ((TaskFailedRequest)h.Cirrus.CallsTo("TaskFailed")[0].Request).Message);
        Assert.All(h.Cirrus.CallsTo("Poll"), p => Assert.Empty(((PollRequest)p.Request).RunningTasks));
        Assert.False(agent.Started);
        Assert.Equal(0, h.LiveMachines);
    }

    [Fact]
    public async Task A_server_outage_while_the_task_runs_delays_task_stopped_until_the_server_is_back_and_loses_nothing()
    {
        await using var h = await SessionHarness.CreateAsync();
        var agent = h.InstallAgent(waitForRelease: true);
        h.Cirrus.StartTask(SessionHarness.NoneTask("9104"));
        h.Start();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStarted").Count == 1 && agent.Started, "the agent runs");

        h.Cirrus.Down = true;
        agent.Release();
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count >= 2 && h.Cirrus.CallsTo("Poll").Any(p => p.Failed),
            "TaskStopped and Poll were tried while the server was down");
        Assert.Equal(0, h.LiveMachines);
        Assert.Equal(["9104"], h.Session.Ledger.RunningTaskIds); // counted until Cirrus heard it stopped

        // The server comes back for everything but polls first: the poll under way keeps being retried.
        h.Cirrus.Fail("Poll", int.MaxValue);
        h.Cirrus.Down = false;
        await Eventually.TrueAsync(() => h.Cirrus.AnsweredBesidesPoll.Contains("TaskStopped"), "TaskStopped reached the server");
        await Eventually.TrueAsync(() => h.Session.Ledger.RunningTaskIds.Count == 0, "the task is no longer counted");
        h.Cirrus.Fail("Poll", 0);

        // The retried poll is made anew: the first one answered says what runs now.
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Any(p => !p.Failed && p.At > StoppedAt(h)), "a poll answered after the outage");
        Assert.Empty(((PollRequest)h.Cirrus.CallsTo("Poll").First(p => !p.Failed && p.At > StoppedAt(h)).Request).RunningTasks);
        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
    }

    private static DateTimeOffset StoppedAt(SessionHarness h) => h.Cirrus.CallsTo("TaskStopped").Single(c => !c.Failed).At;

    private static Isolation VetuIsolation() =>
        new() { Vetu = new Isolation.Types.Vetu { Image = VmStandIn.LinuxImage, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword } };
}
