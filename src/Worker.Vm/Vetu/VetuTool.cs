using Worker.Core.Backends;

namespace Worker.Vm.Vetu;

/// <summary>
/// Vetu's command line as cirrus-cli drives it (reference: cirrus-wire.md §7, §9): no
/// <c>--random-mac</c> (every clone gets a fresh MAC), <c>run</c> with its networking and the
/// appended arguments, <c>list</c> as a table (there is no JSON), exit code 1 for every error, no
/// <c>get</c> (guests are Linux) and no shared directories.
/// </summary>
public sealed class VetuTool(VmCli cli, VetuOptions options) : VmTool(cli)
{
    public override bool MountsVolumes => false;

    public override IReadOnlyList<string> ListArguments { get; } = ["list"];

    /// <summary>No <c>--random-mac</c>: vetu gives every clone a fresh MAC.</summary>
    public override IEnumerable<VmSetCall> SetCalls(VmSpec spec) => SizeCalls(spec);

    public override IReadOnlyList<string> RunFlags(VmSpec spec)
    {
        var flags = new List<string>();
        // A caller's networking (a Cirrus task's) replaces the operator's default.
        var (bridged, host) = spec.Request?.Network switch
        {
            null => (options.BridgedInterface, options.HostNetworking),
            "host" => (null, true),
            var network when network.StartsWith("bridged:", StringComparison.Ordinal) => (network["bridged:".Length..], false),
            _ => ((string?)null, false),
        };
        if (bridged is not null)
        {
            flags.AddRange(["--net-bridged", bridged]);
        }
        else if (host)
        {
            flags.Add("--net-host");
        }
        if (options.HostMtu > 0)
        {
            flags.AddRange(["--net-host-mtu", Text(options.HostMtu)]);
        }
        flags.AddRange(spec.AppendRun?.Arguments ?? []);
        return flags;
    }

    /// <summary>
    /// <c>Source Name Size State</c> under a header; the size is humanized and may hold a space
    /// (<c>20 GB</c>), so the name is the second field and the state the last.
    /// </summary>
    public override IReadOnlyList<ListedVm> ParseList(string stdout)
    {
        var vms = new List<ListedVm>();
        foreach (var line in stdout.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
        {
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 3 || fields[0].Equals("Source", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var state = fields[^1].ToLowerInvariant() switch
            {
                "running" => MachineState.Running,
                "stopped" => MachineState.Stopped,
                _ => MachineState.Unknown,
            };
            vms.Add(new ListedVm(fields[1], fields[0].Equals("local", StringComparison.OrdinalIgnoreCase), state));
        }
        return vms;
    }

    /// <summary>
    /// Vetu exits with 1 for every error; the message tells a missing VM apart: it opens the VM's
    /// <c>config.json</c> and says the file is not there.
    /// </summary>
    public override bool SaysNoSuchVm(VmCliResult result) =>
        result.FirstLine.Contains("no such file or directory", StringComparison.OrdinalIgnoreCase) ||
        result.FirstLine.Contains("does not exist", StringComparison.OrdinalIgnoreCase);

    /// <summary><c>vetu delete</c> prints <c>failed to delete VM "NAME": ...</c> and still exits 0.</summary>
    protected override string? DeleteFailure(VmCliResult result) =>
        result.ExitCode != 0 ? result.FirstLine
        : result.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("failed to delete VM", StringComparison.Ordinal))?.Trim();
}
