using System.Globalization;
using System.Text.Json;

namespace Worker.Vm.Tests.Fakes;

/// <summary>
/// A stand-in <c>tart</c> (reference cirrus-wire.md §8): exit code 2 for a VM that does not exist
/// or is (not) running, 1 for any other error, 64 for a usage error; <c>list</c> as text, JSON
/// (<c>Source</c> "local" or "OCI") or names; <c>get --format json</c> with <c>OS</c>; a clone keeps
/// its source's MAC until <c>set --random-mac</c>.
/// </summary>
public sealed class FakeTart() : FakeVmCli("tart")
{
    protected override string NoIpMessage => "no IP address found, is your VM running?";

    protected override int UsageExitCode => 64;

    protected override (string[] Valued, string[] Switches) SetFlags => (["--cpu", "--memory", "--disk-size", "--display"], ["--random-mac"]);

    protected override (string[] Valued, string[] Switches) RunFlags =>
        (["--root-disk-opts", "--net-softnet-allow", "--dir"], ["--no-graphics", "--no-clipboard", "--no-audio", "--net-softnet", "--nested"]);

    protected override (string[] Valued, string[] Switches) ListFlags => (["--source", "--format"], ["-q", "--quiet"]);

    protected override bool CloneKeepsMac => true;

    protected override (int Code, string Message) NoSuchVm(string name) => (2, $"the specified VM \"{name}\" does not exist");

    protected override (int Code, string Message) NotRunning(string name) => (2, $"VM \"{name}\" is not running");

    protected override (int Code, string Message) AlreadyRunning(string name) => (2, $"VM \"{name}\" is already running");

    protected override async Task ListAsync(FakeCliCall call, IReadOnlyDictionary<string, string?> flags,
        IReadOnlyList<(string Name, bool Local, FakeVmImage Image, FakeVm? Vm)> entries)
    {
        if (flags.ContainsKey("-q") || flags.ContainsKey("--quiet"))
        {
            foreach (var entry in entries)
            {
                await call.OutAsync(entry.Name);
            }
        }
        else if (flags.GetValueOrDefault("--format") == "json")
        {
            await call.OutAsync(JsonSerializer.Serialize(entries.Select(e => new Dictionary<string, object>
            {
                ["Source"] = e.Local ? "local" : "OCI",
                ["Name"] = e.Name,
                ["Disk"] = e.Vm?.DiskGb ?? e.Image.DiskGb,
                ["Size"] = 20,
                ["Accessed"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                ["Running"] = e.Vm?.Running ?? false,
                ["State"] = e.Vm?.Running == true ? "running" : "stopped",
            })));
        }
        else
        {
            await call.OutAsync("Source Name Disk Size Accessed State");
            foreach (var e in entries)
            {
                await call.OutAsync($"{(e.Local ? "local" : "OCI")} {e.Name} {e.Vm?.DiskGb ?? e.Image.DiskGb} 20 just-now {(e.Vm?.Running == true ? "running" : "stopped")}");
            }
        }
        await call.ExitAsync(0);
    }

    protected override async Task<int?> DeleteFailedAsync(FakeCliCall call, string name, int code, string reason)
    {
        await call.ErrAsync(reason);
        return code;
    }

    /// <summary><c>get NAME --format json|text</c>.</summary>
    protected override async Task<bool> OtherAsync(FakeCliCall call, string subcommand, IReadOnlyList<string> rest)
    {
        if (subcommand != "get")
        {
            return false;
        }
        var names = rest.Where(a => !a.StartsWith('-') && a is not ("json" or "text")).ToList();
        if (names.Count != 1 || Vm(names[0]) is not { } vm)
        {
            var (code, message) = NoSuchVm(names.FirstOrDefault() ?? "");
            await FailAsync(call, code, message);
            return true;
        }
        await call.OutAsync(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["CPU"] = vm.Cpu,
            ["Disk"] = vm.DiskGb,
            ["DiskFormat"] = "raw",
            ["Display"] = vm.Display,
            ["Memory"] = vm.MemoryMib,
            ["OS"] = vm.Image.Os,
            ["Running"] = vm.Running,
            ["Size"] = "20.000",
            ["State"] = vm.Running ? "running" : "stopped",
        }));
        await call.ExitAsync(0);
        return true;
    }
}
