namespace Worker.Core.Backends;

/// <summary>
/// What a caller (a Cirrus task's tart or vetu isolation) asks of a VM beyond its image, sizes and
/// volumes. A null field leaves the backend's own setting. Softnet and nested virtualisation can only
/// be added to what the operator set, never taken away. Never from a job's payload.
/// </summary>
public sealed record VmRequest
{
    /// <summary>The image's account, for SSH.</summary>
    public string? User { get; init; }

    public string? Password { get; init; }

    public int? SshPort { get; init; }

    /// <summary>Tart: softnet on (with <see cref="SoftnetAllow"/>).</summary>
    public bool Softnet { get; init; }

    public IReadOnlyList<string> SoftnetAllow { get; init; } = [];

    /// <summary>Tart: nested virtualisation on.</summary>
    public bool Nested { get; init; }

    /// <summary>Tart: the display, <c>WIDTHxHEIGHT</c>.</summary>
    public string? Display { get; init; }

    /// <summary>Vetu: <c>host</c> or <c>bridged:INTERFACE</c>; null: the backend's.</summary>
    public string? Network { get; init; }

    /// <summary>Whether two requests ask for the same VM (a standby made for one serves the other).</summary>
    public static bool Same(VmRequest? a, VmRequest? b) =>
        a is null || b is null
            ? a is null && b is null
            : a.User == b.User && a.Password == b.Password && a.SshPort == b.SshPort && a.Softnet == b.Softnet &&
              a.SoftnetAllow.SequenceEqual(b.SoftnetAllow) && a.Nested == b.Nested && a.Display == b.Display && a.Network == b.Network;
}
