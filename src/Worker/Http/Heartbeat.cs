using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;

namespace Worker.Http;

/// <summary>
/// Asks <see cref="HeartbeatOptions.Endpoint"/> at start and every <see cref="HeartbeatOptions.Every"/>
/// whether to keep running; <c>{"state": "down"}</c> drains the pool, and the run command exits 0.
/// A heartbeat that fails says so in the log and changes nothing: an unreachable controller must
/// not take a fleet down.
/// </summary>
public sealed class Heartbeat : IAsyncDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private readonly CancellationTokenSource _cancel = new();
    private readonly HttpClient _http = new() { Timeout = RequestTimeout };
    private readonly Task _loop;

    private Heartbeat(HeartbeatOptions options, ProcessorPool pool, TimeSpan drainTimeout, ILogger logger) =>
        _loop = RunAsync(options, pool, drainTimeout, logger, _cancel.Token);

    /// <summary>Starts the heartbeat; null when no URL is set.</summary>
    public static Heartbeat? Start(HeartbeatOptions options, ProcessorPool pool, TimeSpan drainTimeout, ILogger logger)
    {
        if (options.Endpoint is null)
        {
            return null;
        }
        logger.LogInformation("Heartbeat: asking {Url} every {Interval} whether to keep running", Redacted(options.Endpoint), options.Every);
        return new Heartbeat(options, pool, drainTimeout, logger);
    }

    private async Task RunAsync(HeartbeatOptions options, ProcessorPool pool, TimeSpan drainTimeout, ILogger logger, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested && !pool.Draining)
        {
            if (await StateAsync(options, logger, ct) == "down")
            {
                logger.LogInformation("Heartbeat: {Url} says down: draining (up to {Timeout}) and exiting", Redacted(options.Endpoint!), drainTimeout);
                await pool.DrainAsync(drainTimeout);
                return;
            }
            try
            {
                await Task.Delay(options.Every, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The answer's <c>state</c>, or null when there is none to be had.</summary>
    private async Task<string?> StateAsync(HeartbeatOptions options, ILogger logger, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, options.Endpoint);
            if (options.Token is { } token)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("token", token);
            }
            using var response = await _http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("Heartbeat: {Url} answered HTTP {Status}; carrying on", Redacted(options.Endpoint!), (int)response.StatusCode);
                return null;
            }
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            return body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("state", out var state) && state.ValueKind == JsonValueKind.String
                ? state.GetString()
                : null;
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or TaskCanceledException or JsonException)
        {
            logger.LogWarning("Heartbeat: asking {Url} failed ({Error}); carrying on", Redacted(options.Endpoint!), e.Message);
            return null;
        }
    }

    /// <summary>The URL as a log line may show it: no password.</summary>
    private static string Redacted(Uri url) => Redaction.Show(url.ToString(), secret: false);

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        await _loop;
        _cancel.Dispose();
        _http.Dispose();
    }
}
