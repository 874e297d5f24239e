using Worker.Core.Configuration;

namespace Worker.Http;

/// <summary>
/// Max-age self-retirement (<c>WORKER_MAX_LIFETIME</c>): after that long the worker drains and exits 0,
/// so a managed instance group replaces its hosts regularly (as podman retires pooled machines).
/// It lives beside the health server because both exist for the instance group that runs the worker.
/// </summary>
public sealed record RetirementOptions
{
    public static readonly Setting<TimeSpan> MaxLifetime = Setting.Duration("MAX_LIFETIME", TimeSpan.Zero,
        "After this long the worker drains (takes no new job and lets running ones end, as long as a job may run) and exits 0; "
        + "each host retires up to a tenth earlier, so a group started together does not retire together.",
        allowZero: true);

    public static IReadOnlyList<ISetting> All { get; } = [MaxLifetime];

    public TimeSpan Lifetime { get; init; }

    public bool Enabled => Lifetime > TimeSpan.Zero;

    public static RetirementOptions Load(SettingsSource source) => new() { Lifetime = MaxLifetime.Read(source) };
}
