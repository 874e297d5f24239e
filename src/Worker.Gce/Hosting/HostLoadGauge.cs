using Microsoft.Extensions.Logging;

namespace Worker.Gce.Hosting;

/// <summary>
/// Writes this host's <see cref="HostLoad"/> to Cloud Monitoring at start and then every interval, as a
/// per-instance gauge the group's autoscaler scales out on. A failed write is logged and the next
/// interval writes again; it never stops the worker.
/// </summary>
public sealed class HostLoadGauge : IAsyncDisposable
{
    private readonly MonitoringClient _client;
    private readonly GceHost _host;
    private readonly string _metric;
    private readonly IReadOnlyDictionary<string, string> _labels;
    private readonly Func<CancellationToken, Task<HostLoad>> _sample;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public HostLoadGauge(MonitoringClient client, GceHost host, string metric, string fleet,
        Func<CancellationToken, Task<HostLoad>> sample, ILogger logger, TimeProvider? clock = null)
    {
        _client = client;
        _host = host;
        _metric = metric;
        _labels = new Dictionary<string, string> { ["fleet"] = fleet };
        _sample = sample;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>Starts writing every <paramref name="interval"/>, the first point at once.</summary>
    public HostLoadGauge Start(TimeSpan interval)
    {
        _logger.LogInformation("Writing this host's load to Cloud Monitoring metric {Metric} every {Interval} (instance {Instance} in {Zone})",
            _metric, interval, _host.InstanceName, _host.Zone);
        _loop = RunAsync(interval, _stop.Token);
        return this;
    }

    /// <summary>Samples the load and writes it; false (and a warning) when either failed.</summary>
    public async Task<bool> WriteOnceAsync(CancellationToken ct)
    {
        try
        {
            var load = await _sample(ct);
            await _client.WriteGaugeAsync(_host, _metric, _labels, load.Value, _clock.GetUtcNow(), ct);
            _logger.LogDebug("Load {Value:0.###} written to {Metric} ({Load})", load.Value, _metric, load);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _logger.LogWarning("Could not write this host's load to {Metric} ({Error}); writing again next interval", _metric, e.Message);
            return false;
        }
    }

    private async Task RunAsync(TimeSpan interval, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await WriteOnceAsync(ct);
                await Task.Delay(interval, _clock, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
