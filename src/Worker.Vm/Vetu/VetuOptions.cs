using Worker.Core.Configuration;

namespace Worker.Vm.Vetu;

/// <summary>
/// Settings of the Vetu backend, <c>WORKER_VETU_*</c>: those every VM backend has
/// (<see cref="VmSettings"/>) and Vetu's networking.
/// </summary>
public sealed record VetuOptions
{
    public static readonly VmSettings Common = new("VETU", "vetu", "ghcr.io/cirruslabs/ubuntu:latest", maxCpus: byte.MaxValue);

    public static readonly Setting<string> Network = new("VETU_NETWORK", "default",
        "How each VM is networked: default (Vetu's user-mode networking), bridged:INTERFACE (vetu run --net-bridged) or host (--net-host).",
        "default, bridged:INTERFACE or host",
        text => text == "default" || text == "host" || (text.StartsWith("bridged:", StringComparison.Ordinal) && text.Length > "bridged:".Length)
            ? (true, text)
            : (false, ""),
        v => v);
    public static readonly Setting<int> NetHostMtu = Setting.Int("VETU_NET_HOST_MTU", 0,
        "MTU of a VM's host networking (vetu run --net-host-mtu, passed on every run as cirrus-cli does; vetu uses it with WORKER_VETU_NETWORK=host or a Cirrus task's networking: host). Overrides the Cirrus worker file's tuning.vetu.mtu. 0: Vetu's default.",
        min: 0, max: 65535);

    public static IReadOnlyList<ISetting> All { get; } = [.. Common.All, Network, NetHostMtu];

    public required VmOptions Vm { get; init; }

    /// <summary>The interface of bridged networking, or null.</summary>
    public string? BridgedInterface { get; init; }

    public bool HostNetworking { get; init; }

    public int HostMtu { get; init; }

    public static VetuOptions Load(SettingsSource source, string baseDirectory)
    {
        var network = Network.Read(source);
        // Not refused with other networking: a Cirrus task's networking: host replaces WORKER_VETU_NETWORK.
        var mtu = NetHostMtu.Read(source);
        return new VetuOptions
        {
            Vm = Common.Load(source, Path.Combine(baseDirectory, "vms", "vetu")),
            BridgedInterface = network.StartsWith("bridged:", StringComparison.Ordinal) ? network["bridged:".Length..] : null,
            HostNetworking = network == "host",
            HostMtu = mtu,
        };
    }
}
