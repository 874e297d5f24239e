using Worker.Core.Configuration;

namespace Worker.Core.Pipeline;

/// <summary>
/// How a drain on SIGTERM fits the time whatever stops the worker allows before it kills it
/// (<c>WORKER_STOP_WINDOW</c>: <c>docker stop --time</c>, a pod's grace period, GCE's ~90 s for a
/// deleted VM). A tenth of the window is kept for exiting; of the rest, up to half (at most
/// <c>WORKER_TEARDOWN_TIMEOUT</c>) is kept for requeueing the jobs still running and deleting their
/// machines; running jobs get what is left to finish, at most <c>WORKER_SHUTDOWN_TIMEOUT</c>.
/// Without a window the drain waits <c>WORKER_SHUTDOWN_TIMEOUT</c>, as before.
/// </summary>
/// <param name="DrainWait">How long running jobs may take to finish before they are requeued.</param>
/// <param name="TeardownLimit">How long the teardown of each job then still running may take in all, when shorter than WORKER_TEARDOWN_TIMEOUT; null: that timeout.</param>
/// <param name="Warning">Said at start-up when the shutdown timeout does not fit the window.</param>
public sealed record ShutdownBudget(TimeSpan DrainWait, TimeSpan? TeardownLimit, string? Warning)
{
    public static ShutdownBudget For(WorkerOptions options)
    {
        var window = options.StopWindow;
        if (window <= TimeSpan.Zero)
        {
            return new ShutdownBudget(options.Shutdown, null, null);
        }
        var exit = window / 10;
        var teardown = Min(options.Teardown, (window - exit) / 2);
        var drain = Min(options.Shutdown, window - exit - teardown);
        var warning = options.Shutdown > drain
            ? $"WORKER_SHUTDOWN_TIMEOUT ({Durations.Format(options.Shutdown)}) does not fit WORKER_STOP_WINDOW ({Durations.Format(window)}): "
              + $"on SIGTERM running jobs get {Durations.Format(drain)} to finish, then they are requeued and their machines deleted "
              + $"within {Durations.Format(teardown)}; set WORKER_SHUTDOWN_TIMEOUT to at most {Durations.Format(drain)}"
            : null;
        return new ShutdownBudget(drain, teardown, warning);
    }

    /// <summary>
    /// How long a retiring worker (max lifetime, idle) lets its running jobs go on: nothing is killing
    /// it, so as long as a job may take (boot, upload, hard timeout, teardown), at least the shutdown timeout.
    /// </summary>
    public static TimeSpan RetirementWait(WorkerOptions options) =>
        Max(options.Shutdown, options.Startup + options.Upload + options.HardLimit + 3 * options.Teardown);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
