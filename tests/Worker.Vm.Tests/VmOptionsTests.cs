using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Vm.Tart;
using Worker.Vm.Vetu;

namespace Worker.Vm.Tests;

/// <summary>The settings of both backends, and how they turn into the CLIs' flags and back from their output.</summary>
public sealed class VmOptionsTests
{
    private static readonly VmSpec Plain = new() { Image = "img" };

    [Theory]
    [InlineData("TART_SOFTNET_ALLOW", "10.0.0.0/8", "WORKER_TART_SOFTNET_ALLOW=10.0.0.0/8 is not valid: empty unless WORKER_TART_SOFTNET=true")]
    [InlineData("TART_DISPLAY", "big", "WORKER_TART_DISPLAY=big is not valid: WIDTHxHEIGHT")]
    [InlineData("TART_MAX_CPU", "0", "WORKER_TART_MAX_CPU=0 is not valid: an integer from 1 to 65535")]
    [InlineData("TART_PULL", "sometimes", "WORKER_TART_PULL=sometimes is not valid: one of missing, never, always")]
    public void A_bad_tart_setting_names_its_variable(string key, string value, string message)
    {
        var error = Assert.Throws<InvalidSettingException>(() => TartOptions.Load(SettingsSource.From(("WORKER_" + key, value)), "/tmp"));

        Assert.StartsWith(message, error.Message);
    }

    [Theory]
    [InlineData("VETU_NETWORK", "nat", "WORKER_VETU_NETWORK=nat is not valid: default, bridged:INTERFACE or host")]
    [InlineData("VETU_NET_HOST_MTU", "70000", "WORKER_VETU_NET_HOST_MTU=70000 is not valid: an integer from 0 to 65535")]
    [InlineData("VETU_CPU", "300", "WORKER_VETU_CPU=300 is not valid: an integer from 0 to 255")]
    public void A_bad_vetu_setting_names_its_variable(string key, string value, string message)
    {
        var error = Assert.Throws<InvalidSettingException>(() => VetuOptions.Load(SettingsSource.From(("WORKER_" + key, value)), "/tmp"));

        Assert.StartsWith(message, error.Message);
    }

    [Theory]
    [InlineData(null, ImagePullPolicy.Missing)]
    [InlineData("never", ImagePullPolicy.Never)]
    [InlineData("Always", ImagePullPolicy.Always)]
    public void The_pull_setting_reads_as_its_policy(string? value, ImagePullPolicy expected)
    {
        var source = value is null ? SettingsSource.From() : SettingsSource.From(("WORKER_VETU_PULL", value));

        Assert.Equal(expected, VetuOptions.Load(source, "/tmp").Vm.Pull);
    }

    [Fact]
    public void Tart_runs_headless_with_softnet_nested_and_shares_and_sets_the_display()
    {
        var options = TartOptions.Load(SettingsSource.From(("WORKER_TART_SOFTNET", "true"), ("WORKER_TART_SOFTNET_ALLOW", "10.0.0.0/8,192.168.1.0/24"),
            ("WORKER_TART_NESTED", "true"), ("WORKER_TART_DISPLAY", "1920x1080")), "/tmp");
        var tool = new TartTool(Cli("tart"), options);
        var spec = Plain with { Volumes = [new VmVolume("cache", "/srv/cache", "/Users/admin/cache", true)] };

        Assert.Equal(
            ["--no-graphics", "--no-clipboard", "--no-audio", "--root-disk-opts", "sync=none", "--net-softnet", "--net-softnet-allow",
             "10.0.0.0/8,192.168.1.0/24", "--nested", "--dir", "cache:/srv/cache:ro"],
            tool.RunFlags(spec));
        Assert.Equal([["--random-mac"], ["--display", "1920x1080"]], tool.SetCalls(Plain).Select(s => s.Arguments));
        Assert.Equal("/tmp/vms/tart", options.Vm.StateDirectory);
    }

    [Theory]
    [InlineData("default", "0", new string[0])]
    [InlineData("bridged:br0", "0", new[] { "--net-bridged", "br0" })]
    [InlineData("host", "1400", new[] { "--net-host", "--net-host-mtu", "1400" })]
    [InlineData("default", "1400", new[] { "--net-host-mtu", "1400" })]
    public void Vetu_runs_with_its_networking_and_the_appended_arguments(string network, string mtu, string[] expected)
    {
        var options = VetuOptions.Load(SettingsSource.From(("WORKER_VETU_NETWORK", network), ("WORKER_VETU_NET_HOST_MTU", mtu)), "/tmp");
        var tool = new VetuTool(Cli("vetu"), options);

        Assert.Equal(expected, tool.RunFlags(Plain));
        Assert.Equal([.. expected, "--device", "path=/dev/vfio/7"],
            tool.RunFlags(Plain with { AppendRun = new RunArguments("gpu", ["--device", "path=/dev/vfio/7"]) }));
        Assert.Empty(tool.SetCalls(Plain));
    }

    [Fact]
    public void Tarts_json_list_is_read_with_its_sources_and_states()
    {
        var tool = new TartTool(Cli("tart"), TartOptions.Load(SettingsSource.From(), "/tmp"));

        var vms = tool.ParseList("""
            [{"Source":"local","Name":"job-vm","Disk":50,"Size":20,"Accessed":"2026-01-01T00:00:00Z","Running":true,"State":"running"},
             {"Source":"local","Name":"golden","Disk":50,"Size":20,"Accessed":"2026-01-01T00:00:00Z","Running":false,"State":"suspended"},
             {"Source":"OCI","Name":"ghcr.io/cirruslabs/macos-sequoia-base:latest","Disk":50,"Size":30,"Accessed":"2026-01-01T00:00:00Z","Running":false,"State":"stopped"}]
            """);

        Assert.Equal(
            [new ListedVm("job-vm", true, MachineState.Running), new ListedVm("golden", true, MachineState.Stopped),
             new ListedVm("ghcr.io/cirruslabs/macos-sequoia-base:latest", false, MachineState.Stopped)],
            vms);
        Assert.Empty(tool.ParseList("\n"));
    }

    [Fact]
    public void Vetus_table_is_read_though_its_sizes_hold_spaces()
    {
        var tool = new VetuTool(Cli("vetu"), VetuOptions.Load(SettingsSource.From(), "/tmp"));

        var vms = tool.ParseList("""
            Source  Name                          Size   State
            local   worker-job-5-0a1b2c3d         21 GB  running
            oci     ghcr.io/cirruslabs/ubuntu:latest  2.1 GB stopped
            """);

        Assert.Equal(
            [new ListedVm("worker-job-5-0a1b2c3d", true, MachineState.Running), new ListedVm("ghcr.io/cirruslabs/ubuntu:latest", false, MachineState.Stopped)],
            vms);
    }

    [Fact]
    public void A_standby_fits_only_a_job_that_asks_for_exactly_it()
    {
        var standby = new VmSpec { Image = "img", Cpus = 2, MemoryMib = 4096 };

        Assert.True((standby with { CpusAsked = true }).IsStandbyShaped(standby));
        Assert.False((standby with { Cpus = 4 }).IsStandbyShaped(standby));
        Assert.False((standby with { Image = "other" }).IsStandbyShaped(standby));
        Assert.False((standby with { Volumes = [new VmVolume("v", "/a", "/b", false)] }).IsStandbyShaped(standby));
        Assert.False((standby with { AppendRun = new RunArguments("gpu", ["--device", "x"]) }).IsStandbyShaped(standby));
    }

    private static VmCli Cli(string tool) => new(tool, tool, $"WORKER_{tool.ToUpperInvariant()}_PATH", NullLogger.Instance);
}
