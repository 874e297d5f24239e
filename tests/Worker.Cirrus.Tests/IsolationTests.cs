using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Tests.Fakes;
using Worker.Docker.Tests;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

/// <summary>
/// A task of each isolation, end to end: polled from the fake Cirrus, run as a job of the pipeline
/// on its backend (container: the real Docker engine; tart and vetu: the VM issue's stand-ins, whose
/// guests are real sshds), the agent started as cirrus-cli starts it, and nothing left afterwards.
/// (Isolation none: <see cref="SessionTests"/>.) One class: the stand-ins' guests share this host's /tmp.
/// </summary>
[Trait("Category", "Integration")]
[Collection(VmGuestCollection.Name)]
public sealed class IsolationTests : IDisposable
{
    public void Dispose()
    {
        // The stand-ins' guests are accounts of this host: what they copied to /tmp/cirrus-ci is here.
        if (Directory.Exists("/tmp/cirrus-ci"))
        {
            Directory.Delete("/tmp/cirrus-ci", recursive: true);
        }
    }

    [Fact]
    public async Task A_container_task_runs_the_agent_copied_into_a_fresh_container_that_is_removed_afterwards()
    {
        var agentRecords = Path.GetTempPath() + "fake-agent-record-*";
        FakeAgent? agent = null;
        await using var h = await SessionHarness.CreateAsync(
            "security:\n  allowed-isolations:\n    container:\n      allowed-images: [\"worker-job-*\"]\n" +
            $"      allowed-volumes:\n        - source: \"{agentRecords}\"\n",
            docker: o => o with { VolumeRules = [agentRecords] });
        await DockerEngine.EnsureAvailableAsync();
        agent = h.InstallAgent();
        var container = new Isolation.Types.Container { Image = DockerEngine.Image, Cpu = 0.5f, Memory = 256 };
        container.Volumes.Add(new Volume { Source = agent.RecordDirectory, Target = agent.RecordDirectory });
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("8101", new Isolation { Container = container }));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(2));

        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.Equal(["agent", "-api-endpoint", h.Server.Endpoint, "-server-token", "server-8101", "-client-token", "client-8101", "-task-id", "8101",
            "-command-from", "", "-command-to", ""], agent.Arguments);
        Assert.Equal("/tmp/cirrus-ci/working-dir", agent.WorkingDirectory);
        Assert.DoesNotContain(agent.Environment.Keys, k => k.StartsWith("WORKER_", StringComparison.Ordinal) || k.StartsWith("CIRRUS_", StringComparison.Ordinal));
        Assert.Empty(await DockerEngine.ContainersOfFleetAsync(h.Fleet));
        Assert.Empty(h.Session.Ledger.RunningTaskIds);
        h.AssertNoSecretLogged("8101");
    }

    [Fact]
    public async Task A_container_task_the_docker_policy_refuses_is_started_then_fails_naming_the_setting_and_no_container_is_made()
    {
        await using var h = await SessionHarness.CreateAsync(docker: o => o with { ImageGlobs = ["worker-job-*"] });
        await DockerEngine.EnsureAvailableAsync();
        h.InstallAgent();
        var since = DateTimeOffset.UtcNow;
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("8102", new Isolation { Container = new Isolation.Types.Container { Image = "evil.example/miner:1" } }));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped");

        // The backend's policy is checked as the machine is made, after the task was taken and reported started.
        Assert.Equal(["Register", "TaskStarted", "TaskFailed", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.Equal("The job was refused by this worker's policy: image 'evil.example/miner:1' is not allowed by WORKER_ALLOWED_IMAGES (worker-job-*)",
            ((TaskFailedRequest)h.Cirrus.CallsTo("TaskFailed")[0].Request).Message);
        Assert.Empty(await DockerEngine.CreateEventsAsync(h.Fleet, since));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_vm_task_runs_the_agent_over_ssh_in_a_fresh_vm_with_the_tasks_account_and_the_vm_is_deleted(string tool)
    {
        await using var vms = await VmStandIn.StartAsync(tool);
        var yaml = tool == "tart"
            ? "security:\n  allowed-isolations:\n    tart:\n      force-softnet: true\n      softnet-allow: [\"10.0.0.0/8\"]\n"
            : "resources:\n  gpu: 1\nresource-modifiers:\n  - match: {gpu: 1}\n    append:\n      run: [\"--device\", \"path=/dev/fake-gpu,iommu=on\"]\n";
        await using var h = await SessionHarness.CreateAsync(yaml, vm: vms);
        var agent = h.InstallVmAgent(tool);
        var isolation = tool == "tart"
            ? new Isolation { Tart = new Isolation.Types.Tart { Image = VmStandIn.DarwinImage, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword, Cpu = 2, Memory = 4096 } }
            : new Isolation { Vetu = new Isolation.Types.Vetu { Image = VmStandIn.LinuxImage, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword, Cpu = 2, Memory = 2048 } };
        var task = tool == "tart" ? SessionHarness.IsolatedTask("8201", isolation) : SessionHarness.IsolatedTask("8201", isolation, ("gpu", 1));
        h.Cirrus.StartTask(task);
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(2));

        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.Equal(["agent", "-api-endpoint", h.Server.Endpoint, "-server-token", "server-8201", "-client-token", "client-8201", "-task-id", "8201"], agent.Arguments);
        var vm = vms.Fake.CallsOf("clone").Single().Arguments[2];
        Assert.Equal(vm, agent.Environment["CIRRUS_VM_ID"]);
        Assert.Equal($"/home/{VmStandIn.GuestUser}", agent.WorkingDirectory);
        var run = vms.Fake.CallsOf("run").Single().Command;
        if (tool == "tart")
        {
            Assert.Equal("cirrus.task_id=8201,cirrus.upstream_worker_name=" + h.Config.Name + ",cirrus.upstream_hostname=" + new Uri(h.Server.Endpoint).Authority,
                agent.Environment["CIRRUS_SENTRY_TAGS"]);
            Assert.Equal($"run --no-graphics --no-clipboard --no-audio --root-disk-opts sync=none --net-softnet --net-softnet-allow 10.0.0.0/8 {vm}", run);
        }
        else
        {
            Assert.DoesNotContain("CIRRUS_SENTRY_TAGS", agent.Environment.Keys);
            Assert.Equal($"run --device path=/dev/fake-gpu,iommu=on {vm}", run);
        }
        Assert.Contains($"set {vm} --cpu 2", vms.Fake.Calls.Select(c => c.Command));
        Assert.Empty(vms.Fake.ClonedVms);
        Assert.Empty(vms.Fake.RunningVms);
        Assert.Equal(0, h.Session.Modifiers.HeldCount);
        Assert.Empty(h.Session.Ledger.RunningTaskIds);
        h.AssertNoSecretLogged("8201");
    }

    [Fact]
    public async Task A_vm_task_is_reported_started_once_before_its_vm_is_made_and_its_agent_runs()
    {
        await using var vms = await VmStandIn.StartAsync("tart");
        var startedAtClone = -1;
        await using var h = await SessionHarness.CreateAsync(vm: vms);
        vms.Fake.OnCall = call =>
        {
            if (call.Arguments[0] == "clone")
            {
                startedAtClone = h.Cirrus.CallsTo("TaskStarted").Count;
            }
        };
        var agent = h.InstallVmAgent("tart");
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("8203",
            new Isolation { Tart = new Isolation.Types.Tart { Image = VmStandIn.DarwinImage, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword } }));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(1));

        Assert.Equal(1, startedAtClone);
        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.True(agent.Started);
        Assert.Empty(vms.Fake.ClonedVms);
    }

    [Theory]
    [InlineData(VmStandIn.LinuxImage, "linux")]
    [InlineData(VmStandIn.DarwinImage, "darwin")]
    public async Task A_tart_task_gets_the_arm64_agent_of_the_os_tart_get_reports_for_its_vm(string image, string os)
    {
        await using var vms = await VmStandIn.StartAsync("tart");
        await using var h = await SessionHarness.CreateAsync(vm: vms);
        var agents = new[] { "darwin", "linux" }.ToDictionary(o => o, o => FakeAgent.InstallInCache(h.Agents, AgentVersion.Default, os: o, arch: "arm64"));
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("8202",
            new Isolation { Tart = new Isolation.Types.Tart { Image = image, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword } }));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(2));

        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.True(agents[os].Started, $"the {os}-arm64 agent ran");
        Assert.False(agents.Single(a => a.Key != os).Value.Started, "the other OS's agent did not run");
        var vm = vms.Fake.CallsOf("clone").Single().Arguments[2];
        Assert.Contains($"get --format json {vm}", vms.Fake.Calls.Select(c => c.Command));
        Assert.Empty(vms.Fake.ClonedVms);
    }

    [Theory]
    [InlineData(true, null, "--net-host --net-host-mtu 1400")]
    [InlineData(false, null, "--net-host-mtu 1400")]
    [InlineData(true, "9000", "--net-host --net-host-mtu 9000")]
    public async Task Tuning_vetu_mtu_reaches_every_vetu_run_as_cirrus_cli_passes_it_unless_WORKER_VETU_NET_HOST_MTU_says_otherwise(
        bool hostNetworking, string? environmentMtu, string flags)
    {
        await using var vms = await VmStandIn.StartAsync("vetu");
        (string Key, string Value)[] settings = environmentMtu is null ? [] : [("_NET_HOST_MTU", environmentMtu)];
        await using var h = await SessionHarness.CreateAsync("tuning:\n  vetu:\n    mtu: 1400\n", vm: vms, vmSettings: settings);
        h.InstallVmAgent("vetu");
        var vetu = new Isolation.Types.Vetu { Image = VmStandIn.LinuxImage, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword };
        if (hostNetworking)
        {
            vetu.Host = new Isolation.Types.Vetu.Types.Host();
        }
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("8202", new Isolation { Vetu = vetu }));
        h.Start();

        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(2));

        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        var vm = vms.Fake.CallsOf("clone").Single().Arguments[2];
        Assert.Equal($"run {flags} {vm}", vms.Fake.CallsOf("run").Single().Command);
    }
}
