using Microsoft.Extensions.Logging;
using Worker.Cirrus.Session;
using Worker.Cirrus.Tasks;
using Worker.Core.Jobs;

namespace Worker.Cirrus.Jobs;

/// <summary>
/// A task taken by <c>worker cirrus run</c>, as a job of the pipeline. What Cirrus hears:
/// <c>TaskStarted</c> before the job runs (<see cref="PipelineTaskRunner"/>; the pipeline's started,
/// once the machine is up, says nothing more); any finish but passed or cancelled →
/// <c>TaskFailed</c> with the reason (a cancelled task sends none, as in cirrus-cli); the end, once
/// its machine is gone → <c>TaskStopped</c>, and only then does the ledger stop counting it. Cirrus has no way to requeue
/// a task: what would requeue it fails it, and Cirrus decides whether to run it again.
/// </summary>
public sealed class CirrusJob(JobSpec spec, CirrusTaskReport report, TaskLedger.RunningTask held, JobCancellations cancellations, ILogger logger) : IJob
{
    private CancellationTokenRegistration _stop;

    public JobSpec Spec { get; } = spec;

    public bool CanRequeue => false;

    public int RequeueCount => 0;

    /// <summary>From here on (the pipeline listens for cancellations), <c>tasks_to_stop</c> cancels the job, also when it came before.</summary>
    public Task ReceivedAsync(CancellationToken ct)
    {
        _stop = held.StopRequested.Register(() => cancellations.Cancel(Spec.JobId, "Cirrus asked to stop the task"));
        return Task.CompletedTask;
    }

    /// <summary>Cirrus heard <c>TaskStarted</c> when the task was taken, before its machine was made.</summary>
    public Task StartedAsync(string instanceId, CancellationToken ct) => Task.CompletedTask;

    public Task FinishAsync(FinishState state, string? reason, CancellationToken ct) => state switch
    {
        FinishState.Passed or FinishState.Cancelled => Task.CompletedTask,
        FinishState.Failed => report.FailedAsync(reason ?? "the agent exited with code 1", ct),
        _ => report.FailedAsync(reason ?? "the task errored", ct),
    };

    public Task RequeueAsync(string reason, bool counted, CancellationToken ct) => report.FailedAsync(reason, ct);

    public Task DeadLetterAsync(string reason, CancellationToken ct) => report.FailedAsync(reason, ct);

    public Task<ILogPartSink> OpenLogAsync(CancellationToken ct) => Task.FromResult<ILogPartSink>(new CirrusLogSink(report.Task.TaskId, logger));

    public async Task EndedAsync(CancellationToken ct)
    {
        await _stop.DisposeAsync();
        try
        {
            await report.StoppedAsync();
        }
        finally
        {
            held.Dispose();
        }
    }
}
