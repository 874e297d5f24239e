using System.Text.Json;
using Worker.Core.Backends;
using Worker.Core.Scripts;
using Worker.Ssh;

namespace Worker.Vm.Tart;

/// <summary>
/// Tart's command line as cirrus-cli drives it (reference: cirrus-wire.md §6, §8): <c>set</c> with
/// <c>--random-mac</c> first, <c>run</c> headless with the root disk unsynced, softnet, nested
/// virtualisation and <c>--dir</c> shares; <c>list --format json</c>; exit code 2 for a VM that does
/// not exist; <c>get --format json</c> for the guest's OS.
/// </summary>
public sealed class TartTool(VmCli cli, TartOptions options) : VmTool(cli)
{
    private static readonly IReadOnlyDictionary<string, string> NoAutoPrune = new Dictionary<string, string> { ["TART_NO_AUTO_PRUNE"] = "" };

    public override bool MountsVolumes => true;

    public override bool RunsWarmupScript => true;

    public override IReadOnlyDictionary<string, string> CloneEnvironment => NoAutoPrune;

    public override IReadOnlyList<string> ListArguments { get; } = ["list", "--format", "json"];

    public override IEnumerable<VmSetCall> SetCalls(VmSpec spec)
    {
        // A clone keeps its source's MAC; two VMs with one MAC get one IP.
        yield return new VmSetCall(["--random-mac"], false);
        foreach (var size in SizeCalls(spec))
        {
            yield return size;
        }
        if ((spec.Request?.Display ?? options.Display) is { } display)
        {
            yield return new VmSetCall(["--display", display], false);
        }
    }

    public override IReadOnlyList<string> RunFlags(VmSpec spec)
    {
        var flags = new List<string> { "--no-graphics", "--no-clipboard", "--no-audio", "--root-disk-opts", "sync=none" };
        // A caller may add softnet or nested virtualisation to the operator's settings, never take them away.
        if (options.UseSoftnet || spec.Request?.Softnet == true)
        {
            flags.Add("--net-softnet");
            var allowed = spec.Request is { Softnet: true, SoftnetAllow.Count: > 0 } request ? request.SoftnetAllow : options.SoftnetAllowed;
            if (allowed.Count > 0)
            {
                flags.AddRange(["--net-softnet-allow", string.Join(',', allowed)]);
            }
        }
        if (options.UseNested || spec.Request?.Nested == true)
        {
            flags.Add("--nested");
        }
        foreach (var volume in spec.Volumes)
        {
            flags.AddRange(["--dir", volume.DirArgument]);
        }
        flags.AddRange(spec.AppendRun?.Arguments ?? []);
        return flags;
    }

    /// <summary><c>[{"Source":"local","Name":"...","State":"running",...}, {"Source":"OCI",...}]</c>.</summary>
    public override IReadOnlyList<ListedVm> ParseList(string stdout)
    {
        if (string.IsNullOrWhiteSpace(stdout))
        {
            return [];
        }
        using var doc = JsonDocument.Parse(stdout);
        return [.. doc.RootElement.EnumerateArray().Select(vm => new ListedVm(
            vm.GetProperty("Name").GetString() ?? "",
            string.Equals(vm.TryGetProperty("Source", out var source) ? source.GetString() : "local", "local", StringComparison.OrdinalIgnoreCase),
            StateOf(vm.TryGetProperty("State", out var state) ? state.GetString() : null,
                vm.TryGetProperty("Running", out var running) && running.ValueKind == JsonValueKind.True)))];
    }

    /// <summary>Tart exits with 2 for <c>the specified VM "NAME" does not exist</c> (and for a VM that is or isn't running, which the message tells apart).</summary>
    public override bool SaysNoSuchVm(VmCliResult result) =>
        result.ExitCode == 2 && result.FirstLine.Contains("does not exist", StringComparison.OrdinalIgnoreCase);

    /// <summary><c>get --format json</c>'s <c>OS</c>; darwin when Tart can't say, as cirrus-cli assumes.</summary>
    public override async Task<string> GuestOsAsync(string vm, CancellationToken ct)
    {
        var result = await Cli.RunAsync(["get", "--format", "json", vm], ct);
        if (result.ExitCode != 0)
        {
            return GuestOs.Darwin;
        }
        try
        {
            using var doc = JsonDocument.Parse(result.Stdout);
            // Tart writes "OS"; matched without regard to case as Go's decoder does.
            var os = doc.RootElement.EnumerateObject().FirstOrDefault(p => p.NameEquals("OS") || p.Name.Equals("os", StringComparison.OrdinalIgnoreCase));
            return os.Value.ValueKind == JsonValueKind.String && os.Value.GetString() == GuestOs.Linux ? GuestOs.Linux : GuestOs.Darwin;
        }
        catch (JsonException)
        {
            return GuestOs.Darwin;
        }
    }

    /// <summary>
    /// A macOS guest mounts each share under <c>/Volumes/My Shared Files/NAME</c>; the job's target
    /// becomes a link to it, as cirrus-cli makes it. A Linux guest mounts the virtiofs tag
    /// <c>com.apple.virtio-fs.automount</c> itself (its image decides where), so nothing is linked there.
    /// </summary>
    public override async Task LinkVolumesAsync(SshMachine machine, VmSpec spec, string guestOs, CancellationToken ct)
    {
        if (guestOs != GuestOs.Darwin)
        {
            return;
        }
        foreach (var volume in spec.Volumes)
        {
            var link = await machine.RunCommandAsync($"ln -s {ShellQuoting.Quote(volume.GuestPath)} {ShellQuoting.Quote(volume.Target)}", ct);
            if (link.ExitCode != 0)
            {
                throw new InvalidOperationException($"could not link {volume.Target} to {volume.GuestPath} in the VM: {link.Error.Trim()}");
            }
        }
    }

    private static MachineState StateOf(string? state, bool running) => state?.ToLowerInvariant() switch
    {
        "running" => MachineState.Running,
        "stopped" or "suspended" => MachineState.Stopped,
        _ => running ? MachineState.Running : MachineState.Unknown,
    };
}
