using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.TestSupport;
using Worker.Vm;
using Worker.Vm.Tart;
using Worker.Vm.Tests.Fakes;
using Worker.Vm.Vetu;

namespace Worker.Cirrus.Tests.Fakes;

/// <summary>
/// The VM issue's stand-in <c>tart</c> or <c>vetu</c> (tests/Worker.Vm.Tests/Fakes: a program on a
/// path of its own, each VM a real sshd on loopback with one account) and the settings of a backend
/// that uses it. Its guests' account is not the backend's default: a Cirrus task brings its own.
/// </summary>
public sealed class VmStandIn : IAsyncDisposable
{
    public const string GuestUser = "worker-cirrus-guest";
    public const string GuestPassword = "worker-cirrus-pw";
    public const string LinuxImage = "ghcr.io/cirruslabs/ubuntu:latest";
    public const string DarwinImage = "ghcr.io/cirruslabs/macos-sequoia-base:latest";

    private VmStandIn(string tool, FakeVmCli fake)
    {
        Tool = tool;
        Fake = fake;
    }

    public string Tool { get; }
    public FakeVmCli Fake { get; }

    public static async Task<VmStandIn> StartAsync(string tool)
    {
        await TestSshUsers.PasswordUserAsync(GuestUser, GuestPassword);
        FakeVmCli fake = tool == "tart" ? new FakeTart() : new FakeVetu();
        fake.AddLocalImage(LinuxImage, new FakeVmImage("linux", GuestUser));
        fake.AddLocalImage(DarwinImage, new FakeVmImage("darwin", GuestUser));
        return new VmStandIn(tool, fake);
    }

    /// <summary>The backend's settings: the stand-in, its sshd port, and an account the guests do not have (the task's is used).</summary>
    public SettingsSource Settings(params (string Key, string Value)[] more)
    {
        var prefix = "WORKER_" + Tool.ToUpperInvariant();
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [prefix + "_PATH"] = Fake.ProgramPath,
            [prefix + "_SSH_USER"] = "nobody-here",
            [prefix + "_SSH_PASSWORD"] = "wrong",
            [prefix + "_SSH_PORT"] = Fake.SshPort.ToString(CultureInfo.InvariantCulture),
            [prefix + "_IMAGE_DEFAULT"] = Tool == "tart" ? DarwinImage : LinuxImage,
            [prefix + "_BOOT_TIMEOUT"] = "30s",
        };
        foreach (var (key, value) in more)
        {
            variables[prefix + key] = value;
        }
        return new SettingsSource(variables);
    }

    /// <summary>The backend, from <see cref="Settings"/> or what the worker made of them (<c>CirrusParts.Effective</c>).</summary>
    public VmBackend CreateBackend(string baseDirectory, MachineLabels labels, ILoggerFactory loggers, SettingsSource settings) =>
        (Tool == "tart" ? TartRegistration.Flavor : VetuRegistration.Flavor).CreateBackend(settings, baseDirectory, labels, loggers);

    public ValueTask DisposeAsync() => Fake.DisposeAsync();
}
