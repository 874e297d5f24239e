using Worker.Cirrus.Api;
using Worker.Cirrus.Tests.Fakes;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

/// <summary>
/// A resource modifier's lease is given back on every path, for every isolation: after a task that
/// held it failed, was refused or was stopped, the next task that matches gets it again, and for
/// vetu its <c>append.run</c> is on the next VM's run (the backend's held-arguments lease is free).
/// </summary>
[Trait("Category", "Integration")]
[Collection(VmGuestCollection.Name)]
public sealed class ModifierLeaseTests
{
    private const string Yaml =
        "resources:\n  gpu: 1\nresource-modifiers:\n  - match: {gpu: 1}\n    append:\n      run: [\"--device\", \"path=/dev/fake-gpu\"]\n";

    [Theory]
    [InlineData("agent exits 1")]
    [InlineData("vm never lets ssh in")]
    [InlineData("stopped while the vm boots")]
    [InlineData("container refused by the docker policy")]
    public async Task The_modifier_lease_is_given_back_and_the_next_vetu_task_runs_with_its_arguments(string path)
    {
        await using var vms = await VmStandIn.StartAsync("vetu");
        await using var h = await SessionHarness.CreateAsync(Yaml, docker: o => o with { ImageGlobs = ["worker-job-*"] }, vm: vms,
            vmSettings: ("_BOOT_TIMEOUT", "3s"));
        // Isolation none and vetu on this host's architecture share the cached agent: this one exits 1.
        h.InstallAgent(exitCode: 1);
        switch (path)
        {
            case "agent exits 1":
                h.Cirrus.StartTask(SessionHarness.NoneTask("9301", ("gpu", 1)));
                break;
            case "vm never lets ssh in":
                vms.Fake.SshdRefuses = true;
                h.Cirrus.StartTask(SessionHarness.IsolatedTask("9301", Vetu(), ("gpu", 1)));
                break;
            case "stopped while the vm boots":
                vms.Fake.BootDelay = TimeSpan.FromMinutes(5);
                h.Cirrus.StartTask(SessionHarness.IsolatedTask("9301", Vetu(), ("gpu", 1)));
                break;
            default:
                h.Cirrus.StartTask(SessionHarness.IsolatedTask("9301",
                    new Isolation { Container = new Isolation.Types.Container { Image = "evil.example/miner:1" } }, ("gpu", 1)));
                break;
        }
        h.Start();
        if (path == "stopped while the vm boots")
        {
            await Eventually.TrueAsync(() => vms.Fake.CallsOf("run").Count == 1, "the VM is booting");
            Assert.Equal(1, h.Session.Modifiers.HeldCount);
            h.Cirrus.StopTask("9301");
        }
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 1, "the first task was reported stopped", TimeSpan.FromMinutes(1));
        await Eventually.TrueAsync(() => h.Session.Modifiers.HeldCount == 0, "the modifier was given back");

        var vmAgent = h.InstallVmAgent("vetu");
        vms.Fake.SshdRefuses = false;
        vms.Fake.BootDelay = TimeSpan.Zero;
        var runsBefore = vms.Fake.CallsOf("run").Count;
        h.Cirrus.StartTask(SessionHarness.IsolatedTask("9302", Vetu(), ("gpu", 1)));
        await Eventually.TrueAsync(() => h.Cirrus.CallsTo("TaskStopped").Count == 2, "the second task was reported stopped", TimeSpan.FromMinutes(2));

        Assert.Equal("9302", h.Cirrus.CallsTo("TaskStarted")[^1].Header("org.cirruslabs.task-id"));
        var run = vms.Fake.CallsOf("run").Skip(runsBefore).Single().Command;
        Assert.StartsWith("run --device path=/dev/fake-gpu ", run, StringComparison.Ordinal);
        Assert.True(vmAgent.Started);
        // Given back as the task's machine is torn down, which may end a moment after Cirrus heard TaskStopped.
        await Eventually.TrueAsync(() => h.Session.Modifiers.HeldCount == 0, "the second task's modifier was given back");
        Assert.Empty(vms.Fake.ClonedVms);
    }

    private static Isolation Vetu() =>
        new() { Vetu = new Isolation.Types.Vetu { Image = VmStandIn.LinuxImage, User = VmStandIn.GuestUser, Password = VmStandIn.GuestPassword } };
}
