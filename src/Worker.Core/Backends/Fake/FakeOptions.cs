using Worker.Core.Configuration;

namespace Worker.Core.Backends.Fake;

/// <summary>Settings of the fake backend (<c>WORKER_FAKE_*</c>), for tests, benchmarks and trying the worker out.</summary>
public sealed record FakeOptions
{
    public static readonly Setting<string> LogOutput = Setting.Text("FAKE_LOG_OUTPUT", "Hello from the fake backend\n",
        "What every fake job prints.");
    public static readonly Setting<TimeSpan> RunSleep = Setting.Duration("FAKE_RUN_SLEEP", TimeSpan.Zero,
        "How long every fake job runs after printing.", allowZero: true);
    public static readonly Setting<TimeSpan> StartupDuration = Setting.Duration("FAKE_STARTUP_DURATION", TimeSpan.Zero,
        "How long a fake machine takes to boot.", allowZero: true);
    public static readonly Setting<TimeSpan> StopDuration = Setting.Duration("FAKE_STOP_DURATION", TimeSpan.Zero,
        "How long stopping a fake machine takes (a cloud VM's delete can take a minute).", allowZero: true);
    public static readonly Setting<int> ExitCode = Setting.Int("FAKE_EXIT_CODE", 0,
        "The exit code of every fake job.", min: 0, max: 255);
    public static readonly Setting<bool> StartError = Setting.Bool("FAKE_ERROR", false,
        "Every machine fails to start (the job is requeued), as travis's fake ERROR.");
    public static readonly Setting<int> StartFailures = Setting.Int("FAKE_START_FAILURES", 0,
        "The first N machine starts of this worker fail (each job is requeued), then starts succeed.", min: 0, max: int.MaxValue);
    public static readonly Setting<bool> Incomplete = Setting.Bool("FAKE_INCOMPLETE", false,
        "Every run ends incomplete, as if the machine died (the job is requeued).");

    public static readonly Setting<bool> Down = Setting.Bool("FAKE_HOST_DOWN", false,
        "The fake backend is unreachable: every start and every probe fails as a host failure, so the host stops taking jobs.");

    public static IReadOnlyList<ISetting> All { get; } = [LogOutput, RunSleep, StartupDuration, StopDuration, ExitCode, StartError, StartFailures, Incomplete, Down];

    public string Output { get; init; } = LogOutput.Default;
    public TimeSpan Run { get; init; }
    public TimeSpan Startup { get; init; }
    public TimeSpan Stop { get; init; }
    public int Exit { get; init; }
    public bool FailStart { get; init; }
    public bool EndIncomplete { get; init; }
    public bool HostDown { get; init; }

    /// <summary>Starts that fail before the machine is usable (counted down; then starts succeed).</summary>
    public int FailFirstStarts { get; init; }

    public static FakeOptions Load(SettingsSource source) => new()
    {
        Output = LogOutput.Read(source).Replace("\\n", "\n", StringComparison.Ordinal),
        Run = RunSleep.Read(source),
        Startup = StartupDuration.Read(source),
        Stop = StopDuration.Read(source),
        Exit = ExitCode.Read(source),
        FailStart = StartError.Read(source),
        FailFirstStarts = StartFailures.Read(source),
        EndIncomplete = Incomplete.Read(source),
        HostDown = Down.Read(source),
    };
}
