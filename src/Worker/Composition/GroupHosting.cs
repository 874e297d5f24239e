using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Hosting;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Gce;
using Worker.Gce.Hosting;
using Worker.Http;

namespace Worker.Composition;

/// <summary>
/// What a host of a GCE managed instance group runs beside its pool: the load gauge the group's
/// autoscaler scales out on (<c>WORKER_GCE_LOAD_METRIC</c>) and idle retirement, which scales in
/// (<c>WORKER_IDLE_RETIRE</c>). Both need to know the instance the worker runs on (the metadata
/// server); asked for off GCE, or idle retirement outside a group, start-up stops naming the variable.
/// </summary>
public sealed class GroupHosting : IAsyncDisposable
{
    private readonly HttpClient? _http;
    private readonly IQueueDepth? _depth;
    private readonly HostLoadGauge? _gauge;
    private readonly IdleRetirement? _idle;

    private GroupHosting(HttpClient? http, IQueueDepth? depth, HostLoadGauge? gauge, IdleRetirement? idle)
    {
        _http = http;
        _depth = depth;
        _gauge = gauge;
        _idle = idle;
    }

    public static GroupHosting Start(WorkerContext context, ProcessorPool pool, ILogger logger)
    {
        var settings = context.Settings;
        var idle = IdleRetirementOptions.Load(settings);
        var options = GceHostOptions.Load(settings);
        if (!idle.Enabled && options.Metric is null)
        {
            return new GroupHosting(null, null, null, null);
        }
        var gce = GceOptions.Load(settings);
        var host = GceHost.Discover(options, gce) ?? throw Refused(settings, idle,
            "0 or empty unless the worker runs on a GCE instance (its metadata server names the instance)");
        IHostGroup? group = null;
        if (host.Group is { } path)
        {
            group = new GceHostGroup(GceRegistration.CreateClient(gce with { Project = host.Project }, settings, context.LoggerFactory), host, path);
        }
        else if (idle.Enabled)
        {
            throw new InvalidSettingException(Variable(settings, IdleRetirementOptions.IdleRetire.Key), Durations.Format(idle.IdleFor),
                "0 unless this instance is in a managed instance group (its created-by metadata, or WORKER_GCE_HOST_GROUP)");
        }

        HttpClient? http = null;
        IQueueDepth? depth = null;
        HostLoadGauge? gauge = null;
        if (options.Metric is { } metric)
        {
            var depths = JobSources.Configured(settings).Select(s => s.CreateDepth?.Invoke(context.Services)).OfType<IQueueDepth>().ToList();
            depth = depths.Count == 1 ? depths[0] : depths.Count > 1 ? new CombinedQueueDepth(depths) : null;
            IAccessTokenSource tokens = gce.Token is { } token ? new StaticAccessToken(token) : new GoogleAccessTokens(gce.Account, GoogleAccessTokens.MonitoringWriteScope);
            http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            var client = new MonitoringClient(http, tokens, options.Monitoring, gce.PerRequestTimeout);
            var sampler = new LoadSampler(pool, depth, group);
            gauge = new HostLoadGauge(client, host, metric, context.Options.Fleet, sampler.SampleAsync, context.LoggerFactory.CreateLogger<HostLoadGauge>())
                .Start(options.MetricInterval);
        }
        var retirement = idle.Enabled ? IdleRetirement.Start(idle, pool, group!, logger) : null;
        return new GroupHosting(http, depth, gauge, retirement);
    }

    private static InvalidSettingException Refused(SettingsSource settings, IdleRetirementOptions idle, string allowed) =>
        idle.Enabled
            ? new InvalidSettingException(Variable(settings, IdleRetirementOptions.IdleRetire.Key), Durations.Format(idle.IdleFor), allowed)
            : new InvalidSettingException(Variable(settings, GceHostOptions.LoadMetric.Key), GceHostOptions.LoadMetric.Read(settings) ?? "", allowed);

    private static string Variable(SettingsSource settings, string key) => settings.Find(key)?.Variable ?? SettingsSource.Prefix + key;

    public async ValueTask DisposeAsync()
    {
        if (_idle is not null)
        {
            await _idle.DisposeAsync();
        }
        if (_gauge is not null)
        {
            await _gauge.DisposeAsync();
        }
        if (_depth is IAsyncDisposable depth)
        {
            await depth.DisposeAsync();
        }
        _http?.Dispose();
    }

    /// <summary>The pool's busy processors and size, the queue's ready jobs and, when some wait, the group's size to share them by.</summary>
    private sealed class LoadSampler(ProcessorPool pool, IQueueDepth? depth, IHostGroup? group)
    {
        private int _hosts = 1;

        public async Task<HostLoad> SampleAsync(CancellationToken ct)
        {
            var busy = pool.Statuses.Count(s => s.JobId.HasValue);
            var ready = depth is null ? null : await depth.ReadyAsync(ct);
            if (ready > 0 && group is not null)
            {
                try
                {
                    _hosts = Math.Max(1, await group.TargetSizeAsync(ct));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The last size known shares the backlog until the group answers again.
                }
            }
            return new HostLoad(busy, pool.Size, ready, _hosts);
        }
    }
}
