using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Worker.JobBoard;

/// <summary>
/// Sends requests to job-board and to the state and log URLs it hands out. A request that fails in a
/// way that may pass (no connection, no answer within the attempt timeout, a 5xx, 408 or 429) is sent
/// again after <see cref="JobBoardTiming"/>'s waits until its budget is spent (a Polly retry with an
/// attempt timeout); any other answer is the caller's to read.
/// </summary>
internal sealed class JobBoardHttp : IDisposable
{
    private static readonly ResiliencePropertyKey<long> Started = new("job-board.started");
    private static readonly ResiliencePropertyKey<TimeSpan> Budget = new("job-board.budget");
    private static readonly ResiliencePropertyKey<string> What = new("job-board.what");

    private readonly HttpClient _client;
    private readonly bool _ownsClient;
    private readonly JobBoardTiming _timing;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<Attempt> _retry;

    public JobBoardHttp(JobBoardTiming timing, ILogger logger, HttpClient? client = null)
    {
        _timing = timing;
        _logger = logger;
        _ownsClient = client is null;
        // Pooled connections are renewed now and then, so a job-board behind changing DNS is found.
        _client = client ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
        _retry = new ResiliencePipelineBuilder<Attempt>()
            .AddRetry(new RetryStrategyOptions<Attempt>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { Transient: true } && !args.Context.CancellationToken.IsCancellationRequested
                    && Elapsed(args.Context) < args.Context.Properties.GetValue(Budget, TimeSpan.Zero)),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = timing.FirstWait,
                MaxDelay = timing.MaxWait,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    _logger.LogWarning("job-board: {What} {Failure}; trying again in {Wait:0.#}s", args.Context.Properties.GetValue(What, "a request"),
                        args.Outcome.Result?.Failure, args.RetryDelay.TotalSeconds);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>One attempt's outcome: an answer, or why there is none; <see cref="Transient"/> when another attempt may do better.</summary>
    private sealed record Attempt(JobBoardAnswer? Answer, string Failure, bool Transient, Exception? Error = null);

    /// <summary>
    /// Sends the request <paramref name="make"/> builds (once per attempt) until an answer that is not a
    /// passing failure comes or <paramref name="budget"/> is spent (then throws <see cref="JobBoardException"/>).
    /// </summary>
    /// <param name="what">Names the request in log lines, e.g. "popping a job".</param>
    /// <param name="alsoTransient">Statuses besides 5xx, 408 and 429 worth another attempt (a fetch's 424: travis-build failed).</param>
    public async Task<JobBoardAnswer> SendAsync(string what, Func<HttpRequestMessage> make, TimeSpan budget, CancellationToken ct,
        params HttpStatusCode[] alsoTransient)
    {
        var context = ResilienceContextPool.Shared.Get(ct);
        context.Properties.Set(Started, Stopwatch.GetTimestamp());
        context.Properties.Set(Budget, budget);
        context.Properties.Set(What, what);
        var attempts = 0;
        try
        {
            var last = await _retry.ExecuteAsync(async (c, state) =>
            {
                attempts++;
                return await TryAsync(state.make, state.alsoTransient, c.CancellationToken);
            }, context, (make, alsoTransient));
            ct.ThrowIfCancellationRequested();
            if (last.Transient || last.Answer is null)
            {
                throw new JobBoardException($"{what} {last.Failure} (gave up after {attempts} attempt(s) in {Elapsed(context).TotalSeconds:0.#}s)", last.Error);
            }
            return last.Answer;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>One attempt, within the attempt timeout; it never throws but for <paramref name="ct"/>.</summary>
    public async ValueTask<JobBoardAnswerOrFailure> TryOnceAsync(Func<HttpRequestMessage> make, CancellationToken ct)
    {
        var attempt = await TryAsync(make, [], ct);
        return new JobBoardAnswerOrFailure(attempt.Answer, attempt.Failure, attempt.Transient);
    }

    private async ValueTask<Attempt> TryAsync(Func<HttpRequestMessage> make, HttpStatusCode[] alsoTransient, CancellationToken ct)
    {
        using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attemptCts.CancelAfter(_timing.AttemptTimeout);
        try
        {
            using var request = make();
            using var response = await _client.SendAsync(request, attemptCts.Token);
            var answer = await JobBoardAnswer.ReadAsync(response, attemptCts.Token);
            var status = (int)answer.Status;
            var transient = status >= 500 || answer.Status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || alsoTransient.Contains(answer.Status);
            return new Attempt(answer, "answered " + answer.Describe(), transient);
        }
        catch (HttpRequestException e)
        {
            return new Attempt(null, $"could not be sent ({e.Message})", true, e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            return new Attempt(null, $"got no answer within {_timing.AttemptTimeout.TotalSeconds:0.#}s", true, e);
        }
        catch (IOException e)
        {
            return new Attempt(null, $"lost its connection ({e.Message})", true, e);
        }
    }

    private static TimeSpan Elapsed(ResilienceContext context) => Stopwatch.GetElapsedTime(context.Properties.GetValue(Started, 0L));

    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }
}

/// <summary>One request's outcome: job-board's answer, or why there is none; <see cref="Transient"/>: the failure may pass (no connection, 5xx).</summary>
internal readonly record struct JobBoardAnswerOrFailure(JobBoardAnswer? Answer, string Failure, bool Transient);
