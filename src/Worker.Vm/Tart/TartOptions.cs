using System.Net;
using System.Text.RegularExpressions;
using Worker.Core.Configuration;

namespace Worker.Vm.Tart;

/// <summary>
/// Settings of the Tart backend, <c>WORKER_TART_*</c>: those every VM backend has
/// (<see cref="VmSettings"/>) and Tart's own display, softnet and nested virtualisation.
/// </summary>
public sealed partial record TartOptions
{
    public static readonly VmSettings Common = new("TART", "tart", "ghcr.io/cirruslabs/macos-sequoia-base:latest", maxCpus: ushort.MaxValue);

    public static readonly Setting<string?> DisplaySize = new("TART_DISPLAY", null,
        "Display of each VM (tart set --display). Empty: the image's own.", "WIDTHxHEIGHT, optionally with pt or px, e.g. 1920x1080",
        text => DisplayPattern().IsMatch(text) ? (true, text) : (false, null), v => v ?? "");
    public static readonly Setting<bool> Softnet = Setting.Bool("TART_SOFTNET", false,
        "Run each VM with softnet (tart run --net-softnet): the VM reaches the internet but not this host's network or other VMs.");
    public static readonly Setting<IReadOnlyList<string>> SoftnetAllow = new("TART_SOFTNET_ALLOW", Array.Empty<string>(),
        "With WORKER_TART_SOFTNET: networks the VMs may reach all the same (--net-softnet-allow).", "a comma-separated list of CIDRs, e.g. 10.0.0.0/8,192.168.1.0/24",
        text => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is var cidrs && cidrs.All(c => IPNetwork.TryParse(c, out _))
            ? (true, cidrs)
            : (false, Array.Empty<string>()),
        v => string.Join(",", v));
    public static readonly Setting<bool> Nested = Setting.Bool("TART_NESTED", false,
        "Give each VM nested virtualisation (tart run --nested; M3 or newer, macOS 15 or newer).");

    public static IReadOnlyList<ISetting> All { get; } = [.. Common.All, DisplaySize, Softnet, SoftnetAllow, Nested];

    public required VmOptions Vm { get; init; }
    public string? Display { get; init; }
    public bool UseSoftnet { get; init; }
    public IReadOnlyList<string> SoftnetAllowed { get; init; } = [];
    public bool UseNested { get; init; }

    public static TartOptions Load(SettingsSource source, string baseDirectory)
    {
        var softnet = Softnet.Read(source);
        var allow = SoftnetAllow.Read(source);
        if (allow.Count > 0 && !softnet)
        {
            throw new InvalidSettingException(source.Find(SoftnetAllow.Key)!.Value.Variable, string.Join(",", allow),
                "empty unless WORKER_TART_SOFTNET=true (the allowed networks are softnet's)");
        }
        return new TartOptions
        {
            Vm = Common.Load(source, Path.Combine(baseDirectory, "vms", "tart")),
            Display = DisplaySize.Read(source),
            UseSoftnet = softnet,
            SoftnetAllowed = allow,
            UseNested = Nested.Read(source),
        };
    }

    [GeneratedRegex("^[0-9]{1,5}x[0-9]{1,5}(pt|px)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DisplayPattern();
}
