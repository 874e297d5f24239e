using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.JobBoard;

/// <summary>
/// A job's state updates: <c>PATCH job_state_url</c> with the job's JWT as bearer token and
/// <c>{"id","state","cur","new","meta":{"state_update_count"},"queued_at","received_at","started_at","finished_at"}</c>
/// (RFC 3339, whole seconds, UTC; a time only once it is known), answered 200. The count goes up by one
/// with each update and each body carries its new value (travis-worker's first update says 1); it
/// starts from the payload's <c>meta.state_update_count</c>. A 409 to <c>received</c> or <c>started</c>
/// means another worker may run the job: it is cancelled here, as travis-worker did. Updates go one at a time, in order.
/// </summary>
internal sealed class JobStateReporter(JobBoardHttp http, FetchedJob job, JobPayload? payload, JobCancellations cancellations, ILogger logger)
{
    private readonly SemaphoreSlim _order = new(1, 1);
    private int _count = payload?.StateUpdateCount ?? 0;

    /// <summary>The state job-board last accepted from this worker: queued, received, started, or a final one.</summary>
    public string Current { get; private set; } = "queued";

    /// <summary>Sends one update, retried while it fails in passing and <paramref name="budget"/> lasts; throws <see cref="JobBoardException"/> when it can't be had.</summary>
    public async Task ReportAsync(string state, JobTimes times, TimeSpan budget, CancellationToken ct)
    {
        await _order.WaitAsync(ct);
        try
        {
            _count++;
            var body = Body(Current, state, times).ToJsonString();
            var answer = await http.SendAsync($"state {state} of job {job.JobId}", () => new HttpRequestMessage(HttpMethod.Patch, job.StateUrl)
            {
                Headers = { Authorization = new AuthenticationHeaderValue("Bearer", job.Jwt) },
                Content = new StringContent(body, new MediaTypeHeaderValue("application/json")),
            }, budget, ct);
            if (answer.Status == HttpStatusCode.OK)
            {
                Current = state;
                return;
            }
            if (answer.Status == HttpStatusCode.Conflict && state is "received" or "started")
            {
                var reason = $"The job was cancelled: job-board's state URL refused it as {state} (409 Conflict); another worker may be running it.";
                logger.LogWarning("Job {JobId}: state {State} answered 409; cancelling it, as another worker may run it", job.JobId, state);
                cancellations.Cancel(job.JobId, reason);
            }
            throw new JobBoardException($"state {state} of job {job.JobId} answered {answer.Describe()}");
        }
        finally
        {
            _order.Release();
        }
    }

    private JsonObject Body(string current, string state, JobTimes times)
    {
        var body = new JsonObject
        {
            ["id"] = job.JobId,
            ["state"] = state,
            ["cur"] = current,
            ["new"] = state,
            ["meta"] = new JsonObject { ["state_update_count"] = _count },
        };
        AddTime(body, "queued_at", payload?.QueuedAt);
        AddTime(body, "received_at", times.Received);
        AddTime(body, "started_at", times.Started);
        AddTime(body, "finished_at", times.Finished);
        if (payload?.Root["trace"] is JsonValue trace && trace.TryGetValue<bool>(out var traced) && traced)
        {
            body["trace"] = true;
        }
        return body;
    }

    private static void AddTime(JsonObject body, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            body[name] = t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }
    }
}

/// <summary>The times a state update carries; null ones are left out.</summary>
internal readonly record struct JobTimes(DateTimeOffset? Received = null, DateTimeOffset? Started = null, DateTimeOffset? Finished = null);
