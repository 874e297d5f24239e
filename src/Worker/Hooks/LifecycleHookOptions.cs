using Worker.Core.Configuration;

namespace Worker.Hooks;

/// <summary>
/// travis-worker's <c>START_HOOK</c> and <c>STOP_HOOK</c>: commands <c>worker run</c> runs just before it
/// takes its first job and just after its last one, so a travis-worker deployment that registers or
/// prepares its host that way goes on doing so unchanged.
/// </summary>
public sealed record LifecycleHookOptions
{
    public static readonly Setting<string?> Start = Setting.OptionalText("START_HOOK",
        "A command worker run runs before it takes its first job, split at spaces as travis-worker split it (no shell); a failure is logged, "
        + "and the worker starts anyway. Past 10 minutes it is stopped.");
    public static readonly Setting<string?> Stop = Setting.OptionalText("STOP_HOOK",
        "A command worker run runs once its last job is done, before it exits (after a drain), split at spaces, no shell; a failure is logged. "
        + "Past 10 minutes it is stopped.");

    public static IReadOnlyList<ISetting> All { get; } = [Start, Stop];

    public string? StartCommand { get; init; }
    public string? StopCommand { get; init; }

    public static LifecycleHookOptions Load(SettingsSource source) => new() { StartCommand = Start.Read(source), StopCommand = Stop.Read(source) };
}
