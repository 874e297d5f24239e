using Worker.Core.Configuration;

namespace Worker.Core.Cleanup;

/// <summary>Settings of the orphan-cleanup sidecar, <c>WORKER_CLEANUP_*</c>.</summary>
public sealed record CleanupOptions
{
    public static readonly Setting<TimeSpan> CleanupInterval = Setting.Duration("CLEANUP_INTERVAL", TimeSpan.FromMinutes(5),
        "How often `worker cleanup` looks for machines a crashed or scaled-in worker left behind.");
    public static readonly Setting<double> CleanupDeleteRate = Setting.Number("CLEANUP_DELETE_RATE", 2,
        "Most machines `worker cleanup` deletes per second, so a large backlog can't exhaust the cloud API's quota.", min: 0.01);

    public static IReadOnlyList<ISetting> All { get; } = [CleanupInterval, CleanupDeleteRate];

    /// <summary>
    /// A machine still provisioning (a Docker container still <c>created</c>) this long after it
    /// was made was given up by its worker: a live one starts it within its startup and upload
    /// timeouts, or gives up and removes it, so a removal that failed (the engine away) or a
    /// worker killed in between left it. Twice those timeouts of this worker's settings (the
    /// sidecar reads the workers' <c>WORKER_*</c>); null: such machines wait for their deadline.
    /// </summary>
    public TimeSpan? NeverStartedAfter { get; init; }

    public TimeSpan Interval { get; init; } = CleanupInterval.Default;
    public double DeletesPerSecond { get; init; } = CleanupDeleteRate.Default;

    public static CleanupOptions Load(SettingsSource source) => new()
    {
        Interval = CleanupInterval.Read(source),
        DeletesPerSecond = CleanupDeleteRate.Read(source),
    };
}
