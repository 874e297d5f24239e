using System.Net;
using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.JobBoard;

/// <summary>
/// Keeps a job's claim with job-board alive while it runs here: <c>POST /jobs/N/claim</c> at once and
/// then every <c>HTTP_REFRESH_CLAIM_INTERVAL</c> (or the <c>Travis-Refresh-Claim-Interval</c> job-board
/// answers with). A refusal (409: job-board gave the job to another processor; 404, 401...) cancels the job through
/// <see cref="JobCancellations"/>, as an AMQP cancel command does. A 5xx or no answer is only logged and
/// the claim tried again at the next interval (travis-worker cancelled the job on any status but 200).
/// </summary>
internal sealed class ClaimRefresher : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _stopped;

    public ClaimRefresher(JobBoardClient client, FetchedJob job, string from, JobCancellations cancellations, ILogger logger)
    {
        _loop = RefreshAsync(client, job, from, cancellations, logger, _stop.Token);
    }

    /// <summary>Stops refreshing (the job is done here) and waits for a refresh under way.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private static async Task RefreshAsync(JobBoardClient client, FetchedJob job, string from, JobCancellations cancellations, ILogger logger, CancellationToken ct)
    {
        var interval = client.Options.RefreshClaim;
        try
        {
            while (true)
            {
                var outcome = await client.RefreshClaimAsync(job.JobId, job.Jwt, from, ct);
                if (outcome.Answer?.RefreshClaimInterval is { } asked && asked > TimeSpan.Zero)
                {
                    interval = asked;
                }
                if (outcome.Answer is { Status: HttpStatusCode.OK })
                {
                    logger.LogDebug("Job {JobId}: claim refreshed", job.JobId);
                }
                else if (outcome.Transient)
                {
                    logger.LogWarning("Job {JobId}: refreshing its claim {Failure}; trying again in {Interval:0.#}s", job.JobId, outcome.Failure, interval.TotalSeconds);
                }
                else
                {
                    var reason = $"The job was cancelled: job-board no longer holds this worker's claim on it (claim refresh {outcome.Failure}).";
                    if (cancellations.Cancel(job.JobId, reason))
                    {
                        logger.LogWarning("Job {JobId}: job-board refused its claim ({Failure}); cancelling it", job.JobId, outcome.Failure);
                        return;
                    }
                    // Not subscribed yet (the pipeline has not reached it): the next refresh cancels it.
                    logger.LogWarning("Job {JobId}: job-board refused its claim ({Failure})", job.JobId, outcome.Failure);
                }
                await Task.Delay(interval, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {JobId}: refreshing its claim failed; it is no longer refreshed", job.JobId);
        }
    }
}
