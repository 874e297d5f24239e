using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;
using Worker.Core.Queues;
using Worker.Core.Telemetry;

namespace Worker.JobBoard;

/// <summary>
/// travis's job-board as a job queue (<c>WORKER_QUEUE_TYPE=http</c>). Each <see cref="ReceiveAsync"/>
/// (one per processor) is one job-board processor, named <c>UUID@PID.HOST</c> in its <c>From</c>
/// header: it pops (<c>POST /jobs/pop</c>) every <c>HTTP_POLLING_INTERVAL</c> (or job-board's
/// <c>Travis-Pop-Interval</c>) while idle, and a pop that fails in passing is tried again after
/// growing waits. A popped job is fetched (<c>GET /jobs/N</c>) and handed out with its claim refreshed.
/// A payload the worker can't use is reported errored with the reason in its log (job-board has no
/// place for dead letters); a job popped while its processor stops taking jobs goes back (state
/// <c>created</c>). Closing waits for log parts still on their way, up to the teardown timeout.
/// </summary>
public sealed class JobBoardQueue : IJobQueue
{
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly HashSet<JobBoardJob> _running = [];
    private readonly HashSet<JobBoardLogSink> _sending = [];
    private volatile bool _reachable = true;

    /// <param name="http">The client requests go through; null: one of its own.</param>
    public JobBoardQueue(JobBoardOptions options, JobCancellations cancellations, ILoggerFactory loggers, HttpClient? http = null)
    {
        Options = options;
        Cancellations = cancellations;
        _logger = loggers.CreateLogger<JobBoardQueue>();
        Http = new JobBoardHttp(options.Timing, _logger, http);
        Client = new JobBoardClient(options, Http);
    }

    public string Name => Options.Queue;
    public JobBoardOptions Options { get; }

    /// <summary>False while pops fail (no connection, 5xx), true once job-board answers again.</summary>
    public bool IsConnected => _reachable;

    internal JobCancellations Cancellations { get; }
    internal JobBoardHttp Http { get; }
    internal JobBoardClient Client { get; }

    public async IAsyncEnumerable<IJob> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var from = $"{Guid.NewGuid()}@{Environment.ProcessId}.{Options.Host}";
        var polling = Options.Polling;
        var wait = TimeSpan.Zero;
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, ct);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
            }
            var pop = await PopAsync(from, ct);
            polling = pop.Interval ?? polling;
            failures = pop.Failed ? failures + 1 : 0;
            wait = pop.Failed ? Options.Timing.WaitAfter(failures, Max(Options.Timing.MaxPopWait, polling)) : polling;
            if (pop.Failed)
            {
                _logger.LogWarning("job-board at {Url}: popping a job {Failure}; popping again in {Wait:0.#}s", Options.Shown, pop.Failure, wait.TotalSeconds);
            }
            if (pop.JobId is not { } jobId)
            {
                continue;
            }
            var job = await TakeAsync(jobId, from);
            if (job is null)
            {
                continue;
            }
            if (ct.IsCancellationRequested)
            {
                await GiveBackAsync(job);
                yield break;
            }
            yield return job;
            wait = polling; // as travis-worker: the next pop one interval after the job
        }
    }

    /// <summary>Settles what was popped and not handed out (none: a processor runs what it takes), then waits for log parts still on their way.</summary>
    public async ValueTask DisposeAsync()
    {
        List<JobBoardLogSink> sending;
        lock (_lock)
        {
            sending = [.. _sending];
        }
        await Task.WhenAll(sending.Select(s => s.CloseAsync(Options.CloseTimeout)));
        Http.Dispose();
    }

    /// <summary>A job's log sink, kept until its final part is delivered so closing the queue can wait for it.</summary>
    internal JobBoardLogSink OpenLog(FetchedJob job)
    {
        var sink = new JobBoardLogSink(Http, job, Options.Timing, _logger);
        lock (_lock)
        {
            _sending.Add(sink);
        }
        _ = sink.FinalDelivered.ContinueWith(_ => { lock (_lock) { _sending.Remove(sink); } }, TaskScheduler.Default);
        return sink;
    }

    internal void Forget(JobBoardJob job)
    {
        lock (_lock)
        {
            _running.Remove(job);
        }
    }

    /// <summary>For tests: the jobs handed out and not settled yet.</summary>
    internal int Running
    {
        get { lock (_lock) { return _running.Count; } }
    }

    private sealed record Pop(long? JobId, TimeSpan? Interval, bool Failed, string Failure = "");

    /// <summary>One pop. It is not cut short by <paramref name="ct"/> once sent, so a job job-board gave out is never dropped unseen.</summary>
    private async Task<Pop> PopAsync(string from, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var (outcome, jobId) = await Client.PopAsync(from, CancellationToken.None);
        var answer = outcome.Answer;
        _reachable = !outcome.Transient;
        if (answer is { Status: HttpStatusCode.NoContent })
        {
            return new Pop(null, answer.PopInterval, false);
        }
        if (answer is { Status: HttpStatusCode.OK })
        {
            if (jobId is null)
            {
                _logger.LogError("job-board at {Url} answered a pop without a job id: {Answer}", Options.Shown, answer.Describe());
            }
            return new Pop(jobId, answer.PopInterval, false);
        }
        // A refusal (401, 403, 412) will not pass by itself either; it is logged as a failure each time.
        return new Pop(null, answer?.PopInterval, true, outcome.Failure);
    }

    /// <summary>Fetches a popped job; null when it can't be run here (its failure is logged, or reported to job-board when it can be).</summary>
    private async Task<JobBoardJob?> TakeAsync(long jobId, string from)
    {
        FetchedJob fetched;
        try
        {
            var answer = await Client.FetchAsync(jobId, from, CancellationToken.None);
            if (answer.Status != HttpStatusCode.OK)
            {
                _logger.LogError("job-board popped job {JobId} but fetching it answered {Answer}; it goes to another worker once its claim lapses", jobId, answer.Describe());
                return null;
            }
            fetched = FetchedJob.Parse(jobId, answer.Body);
        }
        catch (JobBoardException e)
        {
            _logger.LogError("job-board popped job {JobId} but {Failure}; it goes to another worker once its claim lapses", jobId, e.Message);
            return null;
        }
        catch (UnreportableJobException e)
        {
            _logger.LogError("job-board popped job {JobId} but it can't be run or reported on: {Reason}", jobId, e.Message);
            if (e.Jwt is { } jwt)
            {
                await TryDeleteAsync(jobId, jwt, from);
            }
            return null;
        }

        JobPayload payload;
        try
        {
            payload = JobPayload.FromNode(fetched.Data?.DeepClone());
            if (payload.JobId != jobId)
            {
                throw new InvalidJobPayloadException($"its job.id {payload.JobId} is not the job popped ({jobId})");
            }
        }
        catch (InvalidJobPayloadException e)
        {
            await ReportUnusableAsync(fetched, from, e.Message);
            return null;
        }
        var job = new JobBoardJob(this, fetched, payload, from, _logger);
        lock (_lock)
        {
            _running.Add(job);
        }
        return job;
    }

    /// <summary>
    /// A payload the worker can't run: job-board has no dead letters, so it is reported as an errored
    /// job whose log says why (a final log part, the delete, the state <c>errored</c>), and the queue goes on.
    /// </summary>
    private async Task ReportUnusableAsync(FetchedJob fetched, string from, string reason)
    {
        _logger.LogWarning("Job {JobId}: its payload can't be used ({Reason}); reporting it errored", fetched.JobId, reason);
        WorkerMetrics.DeadLettered("http");
        var states = new JobStateReporter(Http, fetched, null, Cancellations, _logger);
        var log = OpenLog(fetched);
        using var budget = new CancellationTokenSource(Options.CloseTimeout);
        try
        {
            await log.WritePartAsync(new LogPart(fetched.JobId, 0, $"The job can't be run: its payload can't be used: {reason}\n", false), budget.Token);
            var now = DateTimeOffset.UtcNow;
            await JobBoardJob.EndAsync(this, fetched, from, states, log, FinishState.Errored.WireName(), new JobTimes(now, now, now), _logger, budget.Token);
        }
        catch (Exception e) when (e is JobBoardException or OperationCanceledException)
        {
            _logger.LogError("Job {JobId}: reporting its unusable payload failed: {Failure}", fetched.JobId, e.Message);
        }
    }

    /// <summary>A job popped while its processor stopped taking jobs: back to travis-hub (state created), not counted as a requeue.</summary>
    private async Task GiveBackAsync(JobBoardJob job)
    {
        using var budget = new CancellationTokenSource(Options.CloseTimeout);
        try
        {
            await job.RequeueAsync("the worker stopped taking jobs before the job started", counted: false, budget.Token);
        }
        catch (Exception e) when (e is JobBoardException or OperationCanceledException)
        {
            _logger.LogError("Job {JobId}: handing it back failed ({Failure}); it goes to another worker once its claim lapses", job.Spec.JobId, e.Message);
            Forget(job);
        }
    }

    private async Task TryDeleteAsync(long jobId, string jwt, string from)
    {
        try
        {
            await Client.DeleteAsync(jobId, jwt, from, CancellationToken.None);
        }
        catch (JobBoardException e)
        {
            _logger.LogWarning("Job {JobId}: {Failure}", jobId, e.Message);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
