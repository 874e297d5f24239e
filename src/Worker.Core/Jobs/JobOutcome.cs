using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Core.Jobs;

/// <summary>What happened to a job. Steps report outcomes; <see cref="OutcomePolicy"/> alone decides what they mean.</summary>
public abstract record JobOutcome
{
    private JobOutcome() { }

    /// <summary>The script ran to its end with this exit code.</summary>
    public sealed record Exited(int ExitCode) : JobOutcome;

    /// <summary>The worker could not run the job (bad script, generator failure) and it is not the infrastructure's fault.</summary>
    public sealed record Errored(string Reason) : JobOutcome;

    public sealed record TimedOut(TimeSpan Limit) : JobOutcome;

    public sealed record LogSilence(TimeSpan Limit) : JobOutcome;

    public sealed record LogTooLong(long Limit) : JobOutcome;

    public sealed record Cancelled(string Reason) : JobOutcome;

    /// <summary>The payload itself is at fault: the job is errored and its payload set aside (dead-lettered) with the reason.</summary>
    public sealed record Unusable(string Reason) : JobOutcome;

    /// <summary>The operator's policy refused what the job asked for; nothing was created.</summary>
    public sealed record Refused(string Rule) : JobOutcome;

    /// <summary>The machine or the transport failed, or the backend is full for now; the job deserves another try.</summary>
    public sealed record Infrastructure(string Reason) : JobOutcome;

    /// <summary>
    /// This host can't run any job now (its engine is down, its credentials refused). Not the job's
    /// fault, unless it happened while the job's own script ran (<paramref name="DuringScript"/>):
    /// a script may have brought the engine down, so that requeue counts.
    /// </summary>
    public sealed record HostFailure(string Reason, bool DuringScript = false) : JobOutcome;

    /// <summary>The worker is going away; the job goes back to the queue without counting against it.</summary>
    public sealed record Shutdown : JobOutcome;

    /// <summary>The outcome a backend's classified failure stands for.</summary>
    public static JobOutcome Of(BackendFailureException failure, bool duringScript = false) => failure.Kind switch
    {
        FailureKind.Host => new HostFailure(failure.Message, duringScript),
        FailureKind.Job => new Errored(failure.Message),
        _ => new Infrastructure(failure.Message),
    };
}

/// <summary>
/// What an outcome means: the state to report (or a requeue), a line for the log, an exit code for
/// <c>worker exec</c>, and what it says about this host's backend (for its circuit breaker).
/// </summary>
public sealed record Verdict(FinishState? State, bool Requeue, bool RequeueCounted, int ExitCode, string? Message, HostSignal Host = HostSignal.None)
{
    /// <summary>The payload goes to the transport's dead letters (with <see cref="Message"/>) as the job is errored.</summary>
    public bool DeadLetter { get; init; }
}

public static class OutcomePolicy
{
    public const int TimeoutExitCode = 124;
    public const int WorkerErrorExitCode = 125;
    public const int CancelledExitCode = 130;

    /// <summary>
    /// The exit code for a job of which only the finish state is known (<c>worker submit --follow</c>):
    /// the same codes <see cref="Decide"/> gives, without the detail only the outcome has (the
    /// script's own code, 124 for a time limit). Null, a finish that was never seen, is the worker's failure.
    /// </summary>
    public static int ExitCodeOf(FinishState? state) => state switch
    {
        FinishState.Passed => 0,
        FinishState.Failed => 1,
        FinishState.Cancelled => CancelledExitCode,
        _ => WorkerErrorExitCode,
    };

    /// <param name="outcome">What happened.</param>
    /// <param name="requeueCount">Counted requeues of the job so far.</param>
    /// <param name="maxRequeues"><c>WORKER_MAX_REQUEUES</c>.</param>
    /// <param name="singleHost">No other host could take the job (<c>worker exec</c>): a host failure ends it at once.</param>
    /// <param name="canRequeue">False for a job its queue can't take back (a Cirrus task): what would requeue it errors it, saying why.</param>
    public static Verdict Decide(JobOutcome outcome, int requeueCount, int maxRequeues, bool singleHost = false, bool canRequeue = true)
    {
        if (canRequeue)
        {
            return DecideForQueue(outcome, requeueCount, maxRequeues, singleHost);
        }
        return outcome switch
        {
            JobOutcome.Infrastructure i => new(FinishState.Errored, false, false, WorkerErrorExitCode, $"The job could not be run: {i.Reason}"),
            JobOutcome.HostFailure h => new(FinishState.Errored, false, false, WorkerErrorExitCode, $"This host can't run jobs now: {h.Reason}", HostSignal.Broken),
            JobOutcome.Shutdown => new(FinishState.Errored, false, false, CancelledExitCode, "This worker is shutting down; the job was stopped."),
            _ => DecideForQueue(outcome, requeueCount, maxRequeues, singleHost),
        };
    }

    private static Verdict DecideForQueue(JobOutcome outcome, int requeueCount, int maxRequeues, bool singleHost) => outcome switch
    {
        JobOutcome.Exited { ExitCode: 0 } => new(FinishState.Passed, false, false, 0, null, HostSignal.Working),
        JobOutcome.Exited { ExitCode: 1 } => new(FinishState.Failed, false, false, 1, null, HostSignal.Working),
        JobOutcome.Exited e => new(FinishState.Errored, false, false, e.ExitCode,
            $"The script exited with code {e.ExitCode}; only 0 (passed) and 1 (failed) are build results.", HostSignal.Working),
        JobOutcome.Errored e => new(FinishState.Errored, false, false, WorkerErrorExitCode, e.Reason),
        JobOutcome.TimedOut t => new(FinishState.Errored, false, false, TimeoutExitCode,
            $"The job exceeded the maximum time limit for jobs ({Durations.Format(t.Limit)}), and has been terminated.", HostSignal.Working),
        JobOutcome.LogSilence s => new(FinishState.Errored, false, false, TimeoutExitCode,
            $"No output has been received in the last {Durations.Format(s.Limit)}, this potentially indicates a stalled build or something wrong with the build itself. The build has been terminated.",
            HostSignal.Working),
        JobOutcome.LogTooLong l => new(FinishState.Errored, false, false, WorkerErrorExitCode,
            $"The job exceeded the maximum log length ({l.Limit} bytes), and has been terminated.", HostSignal.Working),
        JobOutcome.Cancelled c => new(FinishState.Cancelled, false, false, CancelledExitCode,
            string.IsNullOrEmpty(c.Reason) ? "Done: Job Cancelled" : $"Done: Job Cancelled\n\n{c.Reason}"),
        JobOutcome.Unusable u => new(FinishState.Errored, false, false, WorkerErrorExitCode,
            $"The job's payload can't be used: {u.Reason}") { DeadLetter = true },
        JobOutcome.Refused r => new(FinishState.Errored, false, false, WorkerErrorExitCode,
            $"The job was refused by this worker's policy: {r.Rule}"),
        JobOutcome.Infrastructure i when requeueCount >= maxRequeues => new(FinishState.Errored, false, false, WorkerErrorExitCode,
            $"The job could not be run after {requeueCount + 1} attempts (WORKER_MAX_REQUEUES={maxRequeues}); last error: {i.Reason}"),
        JobOutcome.Infrastructure i => new(null, true, true, WorkerErrorExitCode,
            $"The job will be restarted on another machine: {i.Reason}"),
        // Not the job's fault, so not counted; the breaker stops this host taking jobs, so another host runs it.
        JobOutcome.HostFailure h when singleHost => new(FinishState.Errored, false, false, WorkerErrorExitCode,
            $"This host can't run jobs now: {h.Reason}", HostSignal.Broken),
        JobOutcome.HostFailure { DuringScript: true } h when requeueCount >= maxRequeues => new(FinishState.Errored, false, false, WorkerErrorExitCode,
            $"The job could not be run after {requeueCount + 1} attempts (WORKER_MAX_REQUEUES={maxRequeues}); last error: {h.Reason}", HostSignal.Broken),
        JobOutcome.HostFailure h => new(null, true, h.DuringScript, WorkerErrorExitCode,
            $"This host can't run jobs now, so the job will be restarted on another host: {h.Reason}", HostSignal.Broken),
        JobOutcome.Shutdown => new(null, true, false, CancelledExitCode,
            "This worker is shutting down; the job will be restarted."),
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };
}
