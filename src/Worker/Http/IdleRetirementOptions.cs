using Worker.Core.Configuration;

namespace Worker.Http;

/// <summary>
/// Scale-in without killing a job (<c>WORKER_IDLE_RETIRE</c>, <c>WORKER_MIN_HOSTS</c>): a host of a
/// managed instance group that has run no job for that long leaves its group, unless the group would
/// then hold fewer than the minimum. The autoscaler only adds hosts; hosts take themselves away.
/// </summary>
public sealed record IdleRetirementOptions
{
    public static readonly Setting<TimeSpan> IdleRetire = Setting.Duration("IDLE_RETIRE", TimeSpan.Zero,
        "After this long without a job, a host of a managed instance group stops taking jobs, removes itself from the group "
        + "(lowering its target size) and exits 0; never while a job runs, never below MIN_HOSTS. 0: hosts never retire idle.",
        allowZero: true);
    public static readonly Setting<int> MinHosts = Setting.Int("MIN_HOSTS", 1,
        "Fewest hosts the group keeps: an idle host stays when the group's target size is at or below this.", min: 0, max: 10000);

    public static IReadOnlyList<ISetting> All { get; } = [IdleRetire, MinHosts];

    public TimeSpan IdleFor { get; init; }
    public int Minimum { get; init; } = MinHosts.Default;

    public bool Enabled => IdleFor > TimeSpan.Zero;

    public static IdleRetirementOptions Load(SettingsSource source) => new()
    {
        IdleFor = IdleRetire.Read(source),
        Minimum = MinHosts.Read(source),
    };
}
