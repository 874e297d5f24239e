using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Worker.Core.Telemetry;

namespace Worker.Gce;

/// <summary>
/// The Compute Engine REST API v1 over HttpClient. Every request waits for the client-side rate
/// limit (shared by all processors, which share this client), runs under a per-request timeout,
/// and is retried with exponential backoff and jitter when the answer is transient (429, 5xx,
/// rateLimitExceeded, a timeout, a garbled body). Mutating calls carry a <c>requestId</c> so a
/// retry of a call that did reach the API is not done twice.
/// </summary>
public sealed class ComputeClient : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HttpClient _http;
    private readonly IAccessTokenSource _tokens;
    private readonly GceOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly ApiRateLimiter? _rateLimiter;
    private readonly ResiliencePipeline _retry;

    public ComputeClient(HttpClient http, IAccessTokenSource tokens, string project, GceOptions options, ILogger logger, TimeProvider? clock = null)
    {
        _http = http;
        _tokens = tokens;
        _options = options;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
        Project = project;
        _rateLimiter = options.CallsPerSecond > 0 ? new ApiRateLimiter(options.CallsPerSecond, _clock) : null;
        var builder = new ResiliencePipelineBuilder { TimeProvider = _clock };
        if (options.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<ComputeApiException>(e => e.IsTransient),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.MaxBackoff < TimeSpan.FromSeconds(1) ? options.MaxBackoff : TimeSpan.FromSeconds(1),
                MaxDelay = options.MaxBackoff,
                MaxRetryAttempts = options.Retries,
                OnRetry = args =>
                {
                    _logger.LogWarning("Compute API call failed ({Error}); retry {Attempt} in {Delay}",
                        args.Outcome.Exception?.Message, args.AttemptNumber + 1, args.RetryDelay);
                    return default;
                },
            });
        }
        _retry = builder.Build();
    }

    public string Project { get; }

    public Task<T> GetAsync<T>(string path, CancellationToken ct) => SendAsync<T>(HttpMethod.Get, path, null, ct);

    public async Task<T?> GetOrNullAsync<T>(string path, CancellationToken ct) where T : class
    {
        try
        {
            return await GetAsync<T>(path, ct);
        }
        catch (ComputeApiException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    /// <summary>A mutating call; <paramref name="requestId"/> makes its retries idempotent.</summary>
    public Task<ComputeOperation> MutateAsync(HttpMethod method, string path, JsonNode? body, Guid requestId, CancellationToken ct) =>
        SendAsync<ComputeOperation>(method, AppendQuery(path, "requestId=" + requestId.ToString("D")), body, ct);

    /// <summary>
    /// Waits for a zone operation to be DONE with zoneOperations.wait, which answers once it is done
    /// (or after about two minutes): one call per operation, where polling with get takes several.
    /// Only a wait that comes back with the operation not done is followed by <paramref name="pollSleep"/>
    /// before the next. Throws the operation's error when it failed.
    /// </summary>
    public async Task<ComputeOperation> WaitForZoneOperationAsync(string zone, ComputeOperation operation, TimeSpan pollSleep, CancellationToken ct)
    {
        var waits = 0;
        while (!operation.IsDone)
        {
            if (waits++ > 0)
            {
                await Task.Delay(pollSleep, _clock, ct);
            }
            operation = await SendAsync<ComputeOperation>(HttpMethod.Post, $"projects/{Project}/zones/{zone}/operations/{operation.Name}/wait", null, ct);
        }
        if (operation.Error?.Errors is { Count: > 0 } errors)
        {
            throw new ComputeApiException(409, errors.Select(e => e.Code ?? "").ToList(),
                $"operation {operation.Name} ({operation.OperationType}) failed: " +
                string.Join("; ", errors.Select(e => $"{e.Code}: {e.Message}")));
        }
        return operation;
    }

    /// <summary>
    /// Deletes an instance; one that is already gone counts as deleted. With <paramref name="pollSleep"/>
    /// it waits until the delete operation is done.
    /// </summary>
    public async Task DeleteInstanceAsync(string zone, string name, TimeSpan? pollSleep, CancellationToken ct)
    {
        ComputeOperation operation;
        try
        {
            operation = await MutateAsync(HttpMethod.Delete, $"projects/{Project}/zones/{zone}/instances/{name}", null, Guid.NewGuid(), ct);
        }
        catch (ComputeApiException e) when (e.IsNotFound)
        {
            return;
        }
        if (pollSleep is { } sleep)
        {
            await WaitForZoneOperationAsync(zone, operation, sleep, ct);
        }
    }

    /// <summary>Every instance of the project (all zones) matching <paramref name="filter"/>, page by page.</summary>
    public IAsyncEnumerable<ComputeInstance> AggregatedInstancesAsync(string? filter, CancellationToken ct) =>
        AggregatedInstancesAsync(Project, filter, ct);

    /// <summary>Every instance of <paramref name="project"/> (all zones) matching <paramref name="filter"/>, page by page.</summary>
    public async IAsyncEnumerable<ComputeInstance> AggregatedInstancesAsync(string project, string? filter, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var scoped in AggregatedAsync(project, "instances", filter, ct))
        {
            foreach (var instance in scoped.Instances ?? [])
            {
                yield return instance;
            }
        }
    }

    /// <summary>Every operation of the project (globalOperations.aggregatedList) matching <paramref name="filter"/>.</summary>
    public async IAsyncEnumerable<ComputeOperation> AggregatedOperationsAsync(string? filter, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var scoped in AggregatedAsync(Project, "operations", filter, ct))
        {
            foreach (var operation in scoped.Operations ?? [])
            {
                yield return operation;
            }
        }
    }

    /// <summary>Every item of a (non-aggregated) list call, following <c>nextPageToken</c>.</summary>
    public async IAsyncEnumerable<T> ListAsync<T>(string path, string? filter, [EnumeratorCancellation] CancellationToken ct)
    {
        string? page = null;
        do
        {
            var list = await GetAsync<ComputeList<T>>(PagedPath(path, filter, page), ct);
            foreach (var item in list.Items ?? [])
            {
                yield return item;
            }
            page = list.NextPageToken;
        }
        while (!string.IsNullOrEmpty(page));
    }

    private async IAsyncEnumerable<ComputeScopedList> AggregatedAsync(string project, string collection, string? filter, [EnumeratorCancellation] CancellationToken ct)
    {
        string? page = null;
        do
        {
            var list = await GetAsync<ComputeAggregatedList>(PagedPath($"projects/{project}/aggregated/{collection}", filter, page), ct);
            foreach (var scoped in (list.Items ?? new Dictionary<string, ComputeScopedList>()).Values)
            {
                yield return scoped;
            }
            page = list.NextPageToken;
        }
        while (!string.IsNullOrEmpty(page));
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, JsonNode? body, CancellationToken ct) =>
        await _retry.ExecuteAsync(async token => await SendOnceAsync<T>(method, path, body, token), ct);

    private async Task<T> SendOnceAsync<T>(HttpMethod method, string path, JsonNode? body, CancellationToken ct)
    {
        using var call = BackendCalls.Start(ComputeApiTracing.Backend, ComputeApiTracing.Operation(method, path));
        try
        {
            return await AttemptAsync<T>(method, path, body, ct);
        }
        catch (ComputeApiException e)
        {
            call?.SetTag(TraceAttributes.HttpStatus, e.Status);
            BackendCalls.Failed(call, ComputeApiTracing.Backend, ComputeApiTracing.KindOf(e), e.Message);
            throw;
        }
    }

    private async Task<T> AttemptAsync<T>(HttpMethod method, string path, JsonNode? body, CancellationToken ct)
    {
        if (_rateLimiter is not null)
        {
            await _rateLimiter.WaitAsync(ct);
        }
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attempt.CancelAfter(_options.PerRequestTimeout);
        var what = $"{method} {path}";
        try
        {
            using var request = new HttpRequestMessage(method, new Uri(_options.Endpoint, path));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _tokens.GetTokenAsync(attempt.Token));
            if (body is not null)
            {
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            }
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, attempt.Token);
            var text = await response.Content.ReadAsStringAsync(attempt.Token);
            if (!response.IsSuccessStatusCode)
            {
                throw ErrorFrom((int)response.StatusCode, text, what);
            }
            return JsonSerializer.Deserialize<T>(text, Json) ?? throw new JsonException("empty body");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ComputeApiException(0, ["timeout"], $"{what}: no answer within {_options.PerRequestTimeout.TotalSeconds:0.###}s");
        }
        catch (HttpRequestException e)
        {
            throw new ComputeApiException(0, [ComputeApiException.ConnectionReason], $"{what}: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new ComputeApiException(0, ["badResponse"], $"{what}: the answer is not the JSON expected: {e.Message}", e);
        }
    }

    /// <summary>Reads the API's error body: <c>{"error": {"code", "message", "errors": [{"reason"}]}}</c>.</summary>
    private static ComputeApiException ErrorFrom(int status, string text, string what)
    {
        var reasons = new List<string>();
        var message = text.Length > 300 ? text[..300] : text;
        try
        {
            if (JsonNode.Parse(text)?["error"] is JsonObject error)
            {
                message = error["message"]?.GetValue<string>() ?? message;
                foreach (var item in error["errors"]?.AsArray() ?? [])
                {
                    if (item?["reason"]?.GetValue<string>() is { } reason)
                    {
                        reasons.Add(reason);
                    }
                }
                if (error["status"]?.GetValue<string>() is { } statusText)
                {
                    reasons.Add(statusText);
                }
            }
        }
        catch (JsonException)
        {
            // Not the API's error shape (a proxy's page, say); the status alone decides.
        }
        return new ComputeApiException(status, reasons, $"{what}: HTTP {status}: {message}");
    }

    private static string PagedPath(string path, string? filter, string? page)
    {
        if (filter is not null)
        {
            path = AppendQuery(path, "filter=" + Uri.EscapeDataString(filter));
        }
        if (page is not null)
        {
            path = AppendQuery(path, "pageToken=" + Uri.EscapeDataString(page));
        }
        return path;
    }

    private static string AppendQuery(string path, string query) => path + (path.Contains('?') ? '&' : '?') + query;

    /// <summary>Lets go of its HttpClient, which it owns.</summary>
    public void Dispose() => _http.Dispose();
}
