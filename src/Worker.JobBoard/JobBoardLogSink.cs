using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.JobBoard;

/// <summary>
/// A job's log parts to job-board's <c>log_parts_url</c> (<c>?source=worker</c>): an ordered outbox
/// whose sender posts what is waiting, up to <see cref="JobBoardTiming.MaxPartsPerPost"/> parts at a time,
/// as <c>[{"content"(base64),"encoding":"base64","final","job_id","number","tok"(the JWT),"@type":"log_part"}]</c>
/// with <c>Authorization: token sig:SHA1</c> of the parts' tokens, answered 204. A post that fails in
/// passing (no connection, 5xx) is sent again, with the same parts, until it is delivered, so no part
/// is lost or overtaken; the final part goes in the last post. Writing waits only while
/// <see cref="JobBoardTiming.MaxPendingParts"/> parts wait; the final part's write waits until it is delivered.
/// </summary>
internal sealed class JobBoardLogSink : ILogPartSink, IAsyncDisposable
{
    private readonly JobBoardHttp _http;
    private readonly FetchedJob _job;
    private readonly JobBoardTiming _timing;
    private readonly ILogger _logger;
    private readonly Uri _target;
    private readonly object _lock = new();
    private readonly Queue<LogPart> _waiting = new();
    private readonly SemaphoreSlim _room;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _abandon = new();
    private readonly TaskCompletionSource _finalDelivered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _sender;
    private int _nextNumber;
    private bool _finalWritten;

    public JobBoardLogSink(JobBoardHttp http, FetchedJob job, JobBoardTiming timing, ILogger logger)
    {
        _http = http;
        _job = job;
        _timing = timing;
        _logger = logger;
        _room = new SemaphoreSlim(timing.MaxPendingParts);
        var url = new UriBuilder(job.LogPartsUrl);
        var query = System.Web.HttpUtility.ParseQueryString(url.Query);
        query["source"] = "worker";
        url.Query = query.ToString();
        _target = url.Uri;
        _sender = SendAsync();
    }

    /// <summary>Completes once the final part is delivered (or refused for good).</summary>
    public Task FinalDelivered => _finalDelivered.Task;

    public async ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        await _room.WaitAsync(ct);
        lock (_lock)
        {
            if (_finalWritten)
            {
                _room.Release();
                throw new InvalidOperationException($"the log of job {_job.JobId} is closed");
            }
            _waiting.Enqueue(part);
            _nextNumber = part.Number + 1;
            _finalWritten = part.Final;
        }
        _wake.Release();
        if (part.Final)
        {
            await _finalDelivered.Task.WaitAsync(ct);
        }
    }

    /// <summary>Writes an empty final part if the log was not closed with one (its close timed out), and waits until it is delivered.</summary>
    public async Task EnsureFinalAsync(CancellationToken ct)
    {
        bool written;
        int number;
        lock (_lock)
        {
            written = _finalWritten;
            number = _nextNumber;
        }
        if (!written)
        {
            await WritePartAsync(new LogPart(_job.JobId, number, "", true), ct);
        }
        await _finalDelivered.Task.WaitAsync(ct);
    }

    /// <summary>Waits up to <paramref name="patience"/> for what is still waiting to be delivered, then gives it up.</summary>
    public async Task CloseAsync(TimeSpan patience)
    {
        lock (_lock)
        {
            if (_waiting.Count == 0 && !_finalWritten)
            {
                _abandon.Cancel(); // nothing on its way: the sender can stop now
            }
        }
        await Task.WhenAny(_sender, Task.Delay(patience));
        lock (_lock)
        {
            if (_waiting.Count > 0)
            {
                _logger.LogError("Job {JobId}: {Parts} log part(s) could not be delivered to {Url} before the worker stopped", _job.JobId, _waiting.Count, Shown);
            }
        }
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _abandon.Cancel();
        await _sender;
        _finalDelivered.TrySetResult();
    }

    private string Shown => _job.LogPartsUrl.GetLeftPart(UriPartial.Path);

    private async Task SendAsync()
    {
        var ct = _abandon.Token;
        var failures = 0;
        try
        {
            while (true)
            {
                await _wake.WaitAsync(ct);
                List<LogPart> batch;
                lock (_lock)
                {
                    batch = [.. _waiting.Take(_timing.MaxPartsPerPost)];
                }
                if (batch.Count == 0)
                {
                    continue; // its wake-up was used by the batch before
                }
                var outcome = await _http.TryOnceAsync(() => Post(batch), ct);
                if (outcome.Transient)
                {
                    failures++;
                    var wait = _timing.WaitAfter(failures, _timing.MaxWait);
                    _logger.LogWarning("Job {JobId}: log parts {First}-{Last} to {Url} {Failure}; sending them again in {Wait:0.#}s",
                        _job.JobId, batch[0].Number, batch[^1].Number, Shown, outcome.Failure, wait.TotalSeconds);
                    await Task.Delay(wait, ct);
                    _wake.Release(); // the same parts, again
                    continue;
                }
                failures = 0;
                if (outcome.Answer is { } answer && (int)answer.Status is < 200 or >= 300)
                {
                    // Refused for good (a JWT it does not take, a body it can't read): sending it again would only hold up the rest.
                    _logger.LogError("Job {JobId}: log parts {First}-{Last} were refused by {Url}: {Answer}", _job.JobId, batch[0].Number, batch[^1].Number,
                        Shown, answer.Describe());
                }
                bool more;
                lock (_lock)
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        _waiting.Dequeue();
                    }
                    more = _waiting.Count > 0;
                }
                _room.Release(batch.Count);
                if (batch[^1].Final)
                {
                    _finalDelivered.TrySetResult();
                    return;
                }
                if (more && _wake.CurrentCount == 0)
                {
                    _wake.Release();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private HttpRequestMessage Post(List<LogPart> batch)
    {
        var parts = new JsonArray();
        foreach (var part in batch)
        {
            parts.Add(new JsonObject
            {
                ["content"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(part.Content)),
                ["encoding"] = "base64",
                ["final"] = part.Final,
                ["job_id"] = _job.JobId,
                ["number"] = part.Number,
                ["tok"] = _job.Jwt,
                ["@type"] = "log_part",
            });
        }
        var request = new HttpRequestMessage(HttpMethod.Post, _target)
        {
            Content = new StringContent(parts.ToJsonString(), new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "token sig:" + Signature(batch.Count));
        return request;
    }

    /// <summary>travis-worker's signature: SHA-1 (hex) of the parts' tokens, one after the other. The wire format, not a security choice of this worker.</summary>
#pragma warning disable CA5350 // job-board's log parts endpoint expects SHA-1
    private string Signature(int parts) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(_job.Jwt, parts)))));
#pragma warning restore CA5350
}
