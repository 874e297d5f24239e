using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Worker.Core.Configuration;
using Worker.Core.Telemetry;

namespace Worker.Core.Images;

/// <summary>
/// travis-worker's <c>api</c> image selector: one POST of <see cref="JobBoardRequest"/> to the selector
/// URL (job-board's image search, e.g. <c>https://user:password@job-board.example/images/search</c>,
/// whose user info goes as basic authentication, as Go's client sent it), and the first image's name
/// in the answer <c>{"data":[{"name":...}]}</c>; an answer without images is the backend's default. A
/// request that fails (no connection, a status other than 200, no answer within the attempt timeout) is
/// made again (a Polly retry and per-attempt timeout) after the waits of <see cref="ImageSelectorBackoff"/>;
/// once its budget is spent the job is requeued
/// (<see cref="ImageSelectorUnavailableException"/>, naming the URL without its password).
/// </summary>
public sealed class ApiImageSelector : IImageSelector
{
    // One client for every selector in the process; pooled connections are renewed now and then, so DNS changes are seen.
    private static readonly HttpClient SharedHttp = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    // When the first request of one SelectAsync went, for the retry's budget and the failure message.
    private static readonly ResiliencePropertyKey<long> Started = new("image-selector.started");

    private readonly Uri _target;
    private readonly AuthenticationHeaderValue? _authorization;
    private readonly ImageSelectorBackoff _backoff;
    private readonly ResiliencePipeline<Attempt> _retry;
    private readonly ILogger? _logger;
    private readonly HttpClient _http;

    public ApiImageSelector(Uri url, ImageSelectorBackoff? backoff = null, ILogger? logger = null, HttpClient? http = null)
    {
        Shown = Redaction.Show(url.OriginalString, secret: false);
        _target = UrlCredentials.Without(url);
        _authorization = UrlCredentials.Basic(url);
        _backoff = backoff ?? ImageSelectorBackoff.Travis;
        _logger = logger;
        _http = http ?? SharedHttp;
        _retry = Retry(_backoff);
    }

    /// <summary>The selector's URL as messages show it: without its password.</summary>
    public string Shown { get; }

    public async Task<string?> SelectAsync(ImageQuery query, CancellationToken ct)
    {
        var body = JobBoardRequest.Body(query);
        using var span = BackendCalls.Start(query.Infra, "POST image selector");
        try
        {
            var name = NameIn(await PostAsync(body, ct));
            return string.IsNullOrEmpty(name) || name == "default" ? null : name;
        }
        catch (ImageSelectorUnavailableException e)
        {
            BackendCalls.Failed(span, query.Infra, "image_selector", error: e);
            throw;
        }
    }

    /// <summary>What one request came to: job-board's answer, or why there is none.</summary>
    private sealed record Attempt(string? Answer, string Failure = "", Exception? Error = null);

    private async Task<string> PostAsync(string body, CancellationToken ct)
    {
        var context = ResilienceContextPool.Shared.Get(ct);
        context.Properties.Set(Started, Stopwatch.GetTimestamp());
        var attempts = 0;
        try
        {
            var last = await _retry.ExecuteAsync(
                (attempt, body) => { attempts++; return TryPostAsync(body, attempt.CancellationToken, ct); }, context, body);
            return last.Answer ?? throw new ImageSelectorUnavailableException(
                $"the image selector at {Shown} {last.Failure}; gave up after {attempts} attempts in {Seconds(Elapsed(context))}", last.Error);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Failed requests asked again after <see cref="ImageSelectorBackoff"/>'s waits while its budget lasts, each within its attempt timeout.</summary>
    private ResiliencePipeline<Attempt> Retry(ImageSelectorBackoff backoff) => new ResiliencePipelineBuilder<Attempt>()
        .AddRetry(new RetryStrategyOptions<Attempt>
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { Answer: null } && Elapsed(args.Context) < backoff.GiveUpAfter),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = backoff.FirstWait,
            MaxDelay = backoff.MaxWait,
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                _logger?.LogWarning("The image selector at {Url} {Failure}; asking again in {Wait}", Shown, args.Outcome.Result?.Failure, Seconds(args.RetryDelay));
                return default;
            },
        })
        .AddTimeout(backoff.AttemptTimeout)
        .Build();

    private static TimeSpan Elapsed(ResilienceContext context) => Stopwatch.GetElapsedTime(context.Properties.GetValue(Started, 0L));

    /// <summary>One request, cut by <paramref name="attemptCt"/> (the attempt timeout, or <paramref name="ct"/>, the caller's).</summary>
    private async ValueTask<Attempt> TryPostAsync(string body, CancellationToken attemptCt, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _target) { Content = new StringContent(body, Encoding.UTF8) };
            // Set as written: the boundary parameter travis-worker sends is not one .NET would add.
            request.Content.Headers.Remove("Content-Type");
            request.Content.Headers.TryAddWithoutValidation("Content-Type", JobBoardRequest.ContentType);
            request.Headers.Authorization = _authorization;
            using var response = await _http.SendAsync(request, attemptCt);
            var text = await response.Content.ReadAsStringAsync(attemptCt);
            return response.StatusCode == HttpStatusCode.OK
                ? new Attempt(text)
                : new Attempt(null, $"answered {(int)response.StatusCode} {response.ReasonPhrase}: {Shorten(text)}");
        }
        catch (HttpRequestException e)
        {
            return new Attempt(null, $"can't be reached ({e.Message})", e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            return new Attempt(null, $"did not answer within {Durations.Format(_backoff.AttemptTimeout)}", e);
        }
    }

    /// <summary>The first image's name in job-board's answer; null or empty when it lists none.</summary>
    private string? NameIn(string answer)
    {
        try
        {
            using var json = JsonDocument.Parse(answer);
            if (!json.RootElement.TryGetProperty("data", out var data) || data.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            var first = data.EnumerateArray().FirstOrDefault();
            return first.ValueKind == JsonValueKind.Undefined || !first.TryGetProperty("name", out var name) || name.ValueKind == JsonValueKind.Null
                ? null
                : name.GetString();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ImageSelectorUnavailableException($"the image selector at {Shown} answered what is not job-board's {{\"data\":[{{\"name\":...}}]}}: {Shorten(answer)}", e);
        }
    }

    private static string Seconds(TimeSpan elapsed) => elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private static string Shorten(string text) => text.Length > 200 ? text[..200] + "..." : text;
}
