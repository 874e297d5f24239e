using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.JobBoard;

/// <summary>
/// A job popped from job-board. Its claim is refreshed from the moment it is fetched until its result
/// is reported. Received and started are state updates; a finish delivers the final log part, deletes
/// the job from job-board (<c>DELETE /jobs/N</c>) and then reports the state; a requeue reports the
/// state <c>created</c> (travis-hub queues the job again) without deleting it, as travis-worker did.
/// </summary>
internal sealed class JobBoardJob : JobBase
{
    private readonly JobBoardQueue _queue;
    private readonly FetchedJob _fetched;
    private readonly string _from;
    private readonly JobStateReporter _states;
    private readonly ClaimRefresher _claim;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private JobBoardLogSink? _log;

    public JobBoardJob(JobBoardQueue queue, FetchedJob fetched, JobPayload payload, string from, ILogger logger)
        : base(payload, payload.MetaRequeueCount, new JobBoardScript(fetched.ScriptEncoding, fetched.ScriptContent))
    {
        _queue = queue;
        _fetched = fetched;
        _from = from;
        _logger = logger;
        _states = new JobStateReporter(queue.Http, fetched, payload, queue.Cancellations, logger);
        _claim = new ClaimRefresher(queue.Client, fetched, from, queue.Cancellations, logger);
    }

    /// <summary>The log sink, once opened.</summary>
    internal JobBoardLogSink? Log
    {
        get { lock (_lock) { return _log; } }
    }

    public override Task<ILogPartSink> OpenLogAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            _log ??= _queue.OpenLog(_fetched);
            return Task.FromResult<ILogPartSink>(_log);
        }
    }

    protected override Task OnReceivedAsync(CancellationToken ct) =>
        _states.ReportAsync("received", new JobTimes(ReceivedAt), _queue.Options.Timing.GiveUpAfter, ct);

    protected override Task OnStartedAsync(string instanceId, CancellationToken ct) =>
        _states.ReportAsync("started", new JobTimes(ReceivedAt, StartedAt), _queue.Options.Timing.GiveUpAfter, ct);

    protected override async Task OnFinishAsync(FinishState state, CancellationToken ct)
    {
        await EndClaimAsync();
        // travis-worker's finish: a time not reached is the finish time, so travis-hub gets all three.
        var finished = FinishedAt;
        try
        {
            await EndAsync(_queue, _fetched, _from, _states, Log, state.WireName(), new JobTimes(ReceivedAt ?? finished, StartedAt ?? finished, finished), _logger, ct);
        }
        finally
        {
            _queue.Forget(this);
        }
    }

    /// <summary>
    /// A job's end on job-board: its final log part (a log that was opened), the delete, then its
    /// final state. A delete that fails is logged and the state sent all the same: the result matters
    /// more, and job-board's reconciler drops a job whose claim lapsed.
    /// </summary>
    internal static async Task EndAsync(JobBoardQueue queue, FetchedJob fetched, string from, JobStateReporter states, JobBoardLogSink? log, string state,
        JobTimes times, ILogger logger, CancellationToken ct)
    {
        await FinalLogPartAsync(queue, fetched, log, logger, ct);
        try
        {
            var deleted = await queue.Client.DeleteAsync(fetched.JobId, fetched.Jwt, from, ct);
            if ((int)deleted.Status is < 200 or >= 300)
            {
                logger.LogWarning("Job {JobId}: deleting it from job-board answered {Answer}", fetched.JobId, deleted.Describe());
            }
        }
        catch (JobBoardException e)
        {
            logger.LogWarning("Job {JobId}: {Failure}; reporting its result all the same", fetched.JobId, e.Message);
        }
        await states.ReportAsync(state, times, TimeSpan.MaxValue, ct);
    }

    protected override async Task OnRequeueAsync(string reason, bool counted, CancellationToken ct)
    {
        await EndClaimAsync();
        try
        {
            await FinalLogPartAsync(_queue, _fetched, Log, _logger, ct);
            // travis-worker's requeue: the times of this attempt are left out, travis-hub queues the job again.
            await _states.ReportAsync("created", default, TimeSpan.MaxValue, ct);
        }
        finally
        {
            _queue.Forget(this);
        }
        _logger.LogInformation("Job {JobId} handed back to job-board (state created): {Reason}", _fetched.JobId, reason);
    }

    private ValueTask EndClaimAsync() => _claim.DisposeAsync();

    /// <summary>
    /// The final part before the result, as on every queue; a log never opened has none. A log URL that
    /// stays down holds the result up for <see cref="JobBoardTiming.GiveUpAfter"/> at most: the result
    /// goes then, and the parts follow when they can (until the queue closes).
    /// </summary>
    private static async Task FinalLogPartAsync(JobBoardQueue queue, FetchedJob fetched, JobBoardLogSink? log, ILogger logger, CancellationToken ct)
    {
        if (log is null)
        {
            return;
        }
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(queue.Options.Timing.GiveUpAfter);
        try
        {
            await log.EnsureFinalAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Job {JobId}: its final log part is not delivered yet; reporting its result before it", fetched.JobId);
        }
    }
}
