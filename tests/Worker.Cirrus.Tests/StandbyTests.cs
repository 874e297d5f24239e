using Worker.Cirrus.Api;
using Worker.Cirrus.Tests.Fakes;
using Worker.TestSupport;
using Worker.Vm.Tests.Fakes;

namespace Worker.Cirrus.Tests;

/// <summary>
/// The <c>standby</c> section and Cirrus's <c>updated_standby_instances</c> on the Vetu or Tart
/// backend's standby (the VM stand-in): a VM kept booted, reported in <c>Poll</c>, taken by the task
/// that asks for exactly it; a standby that fails to boot never stops the polls; Tart's warm-up script
/// run before the standby is reported, and <c>tart-pre-pull</c> before it boots.
/// </summary>
[Trait("Category", "Integration")]
[Collection(VmGuestCollection.Name)]
public sealed class StandbyTests
{
    private static readonly string StandbyYaml =
        $"standby:\n  isolation:\n    vetu:\n      image: {VmStandIn.LinuxImage}\n      user: {VmStandIn.GuestUser}\n      password: {VmStandIn.GuestPassword}\n";

    [Fact]
    public async Task The_standby_section_keeps_a_vm_booted_that_poll_reports_and_a_matching_task_takes()
    {
        await using var vms = await VmStandIn.StartAsync("vetu");
        await using var h = await SessionHarness.CreateAsync(StandbyYaml, vm: vms);
        var agent = h.InstallVmAgent("vetu");
        h.Start();

        await Eventually.TrueAsync(() => Reported(h).Count == 1, "a poll reports the standby", TimeSpan.FromMinutes(1));
        Assert.Equal(h.Config.Standby, Reported(h)[0].Parameters);
        var standby = vms.Fake.CallsOf("clone").Single().Arguments[2];
        Assert.StartsWith("worker-standby-", standby, StringComparison.Ordinal);

        h.Cirrus.StartTask(SessionHarness.IsolatedTask("9401", Vetu(VmStandIn.LinuxImage)));
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the task was reported stopped", TimeSpan.FromMinutes(1));

        Assert.Equal(["Register", "TaskStarted", "TaskStopped"], h.Cirrus.AnsweredBesidesPoll);
        Assert.Equal(standby, agent.Environment["CIRRUS_VM_ID"]);
        Assert.DoesNotContain(standby, vms.Fake.ClonedVms);
        // Another boots behind it.
        var stoppedAt = h.Cirrus.CallsTo("TaskStopped")[0].At;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Any(p => p.At > stoppedAt && ((PollRequest)p.Request).AvailableStandbyInstancesInformation.Count == 1),
            "a poll reports the next standby", TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Standby_parameters_from_cirrus_replace_the_files_and_a_standby_that_never_boots_never_stops_polling()
    {
        await using var vms = await VmStandIn.StartAsync("vetu");
        vms.Fake.SshdRefuses = true;
        await using var h = await SessionHarness.CreateAsync(StandbyYaml, vm: vms, vmSettings: ("_BOOT_TIMEOUT", "2s"));
        h.Start();
        await Eventually.TrueAsync(() => vms.Fake.CallsOf("clone").Count >= 2, "the failing standby was tried twice", TimeSpan.FromMinutes(1));
        var polls = h.Cirrus.CallsTo("Poll").Count;
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("Poll").Count >= polls + 2, "polls go on");
        Assert.All(h.Cirrus.CallsTo("Poll"), p => Assert.Empty(((PollRequest)p.Request).AvailableStandbyInstancesInformation));

        vms.Fake.SshdRefuses = false;
        var isolation = Vetu(VmStandIn.LinuxImage);
        isolation.Vetu.Cpu = 3;
        var fromCirrus = new StandbyInstanceParameters { Isolation = isolation };
        fromCirrus.Resources["vetu-vms"] = 1;
        h.Cirrus.UpdatedStandby = fromCirrus;
        await Eventually.TrueAsync(() => Reported(h).Count == 1, "a poll reports Cirrus's standby", TimeSpan.FromMinutes(1));
        Assert.Equal(fromCirrus, Reported(h)[0].Parameters);
        Assert.Contains(vms.Fake.Calls, c => c.Command.StartsWith("set worker-standby-", StringComparison.Ordinal) && c.Command.EndsWith(" --cpu 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tart_standby_runs_the_files_warmup_script_before_poll_reports_it()
    {
        await using var vms = await VmStandIn.StartAsync("tart");
        var yaml = $"standby:\n  isolation:\n    tart:\n      image: {VmStandIn.LinuxImage}\n      user: {VmStandIn.GuestUser}\n      password: {VmStandIn.GuestPassword}\n" +
                   "  warmup:\n    script: echo warm > ~/warmed-up\n    timeout: 1m\n";
        await using var h = await SessionHarness.CreateAsync(yaml, vm: vms);
        h.Start();

        await Eventually.TrueAsync(() => Reported(h).Count == 1, "a poll reports the standby", TimeSpan.FromMinutes(1));

        var standby = vms.Fake.CallsOf("clone").Single().Arguments[2];
        Assert.Equal("warm\n", File.ReadAllText(Path.Combine(vms.Fake.Vm(standby)!.Home, "warmed-up")));
        Assert.Equal(60UL, Reported(h)[0].Parameters.Warmup.TimeoutSeconds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Before_the_standby_boots_its_image_is_pre_pulled_and_its_clone_makes_no_pull_of_its_own(bool pullFails)
    {
        const string image = "ghcr.io/acme/pre-pulled:1";
        await using var vms = await VmStandIn.StartAsync("tart");
        vms.Fake.AddRegistryImage(image, new FakeVmImage("linux", VmStandIn.GuestUser));
        vms.Fake.PullFails = pullFails;
        var yaml = $"standby:\n  isolation:\n    tart:\n      image: {image}\n      user: {VmStandIn.GuestUser}\n      password: {VmStandIn.GuestPassword}\n" +
                   $"tart-pre-pull:\n  images: [ {image} ]\n  check-interval: 1h\n";
        await using var h = await SessionHarness.CreateAsync(yaml, vm: vms);
        h.Start();

        await Eventually.TrueAsync(() => Reported(h).Count == 1, "a poll reports the standby", TimeSpan.FromMinutes(1),
            explain: () => string.Join('\n', h.LogLines));

        var calls = vms.Fake.Calls.Select(c => c.Arguments[0]).Where(c => c is "pull" or "clone").ToList();
        Assert.Equal(["pull", "clone"], calls);
        Assert.Equal($"pull {image}", vms.Fake.CallsOf("pull").Single().Command);
        Assert.Equal(pullFails, h.LogLines.Any(l => l.StartsWith($"Pre-pulling Tart image {image} failed", StringComparison.Ordinal)));
    }

    private static IReadOnlyList<StandbyInstanceInformation> Reported(SessionHarness h) =>
        h.Cirrus.CallsTo("Poll") is [.., { Request: PollRequest last }] ? last.AvailableStandbyInstancesInformation : [];

    private static Isolation Vetu(string image) =>
        new() { Vetu = new Isolation.Types.Vetu { Image = image, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword } };
}
