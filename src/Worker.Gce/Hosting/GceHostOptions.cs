using Worker.Core.Configuration;

namespace Worker.Gce.Hosting;

/// <summary>
/// Settings of a worker host that runs in a GCE managed instance group (<c>WORKER_GCE_*</c>): the group
/// it leaves when it retires idle, and the load gauge it writes to Cloud Monitoring for the group's
/// autoscaler. Whatever the job backend is, these are about the machine the worker itself runs on.
/// </summary>
public sealed record GceHostOptions
{
    public static readonly TimeSpan MinimumMetricInterval = TimeSpan.FromSeconds(10);

    public static readonly Setting<string?> HostGroup = Setting.OptionalText("GCE_HOST_GROUP",
        "The managed instance group this host is in, as regions/REGION/instanceGroupManagers/NAME (or zones/ZONE/...). "
        + "Empty: the group that created this instance (its created-by metadata).",
        "regions/REGION/instanceGroupManagers/NAME or zones/ZONE/instanceGroupManagers/NAME");
    public static readonly Setting<string?> LoadMetric = Setting.OptionalText("GCE_LOAD_METRIC",
        "Cloud Monitoring metric this host writes its load to every LOAD_METRIC_INTERVAL, for the group's autoscaler: "
        + "busy processors plus its share of the queue's ready jobs, over the pool size. Empty: none is written.",
        "a custom metric type such as custom.googleapis.com/worker/load");
    public static readonly Setting<TimeSpan> LoadMetricInterval = new("GCE_LOAD_METRIC_INTERVAL", TimeSpan.FromSeconds(60),
        "How often the load gauge is written (Cloud Monitoring takes a point per series every 5 s at most).",
        "a duration of at least 10s",
        text => Durations.TryParse(text, out var d) && d >= MinimumMetricInterval ? (true, d) : (false, TimeSpan.Zero),
        Durations.Format);
    public static readonly Setting<Uri?> MonitoringEndpoint = Setting.OptionalUri("GCE_MONITORING_ENDPOINT",
        "Cloud Monitoring API base URL, for emulators and tests. Empty: https://monitoring.googleapis.com/v3/.", false, "http", "https");

    public static IReadOnlyList<ISetting> All { get; } = [HostGroup, LoadMetric, LoadMetricInterval, MonitoringEndpoint];

    public static readonly Uri DefaultMonitoringEndpoint = new("https://monitoring.googleapis.com/v3/");

    public InstanceGroupPath? Group { get; init; }
    public string? Metric { get; init; }
    public TimeSpan MetricInterval { get; init; } = LoadMetricInterval.Default;
    public Uri Monitoring { get; init; } = DefaultMonitoringEndpoint;

    public static GceHostOptions Load(SettingsSource source)
    {
        InstanceGroupPath? group = null;
        if (HostGroup.Read(source) is { } text)
        {
            group = InstanceGroupPath.TryParse(text)
                ?? throw new InvalidSettingException(source.Find(HostGroup.Key)!.Value.Variable, text, HostGroup.Allowed);
        }
        var metric = LoadMetric.Read(source);
        if (metric is not null && !System.Text.RegularExpressions.Regex.IsMatch(metric, @"^(custom|workload)\.googleapis\.com/[A-Za-z0-9_/.-]+$"))
        {
            throw new InvalidSettingException(source.Find(LoadMetric.Key)!.Value.Variable, metric, LoadMetric.Allowed);
        }
        return new GceHostOptions
        {
            Group = group,
            Metric = metric,
            MetricInterval = LoadMetricInterval.Read(source),
            Monitoring = MonitoringEndpoint.Read(source) is { } uri
                ? (uri.OriginalString.EndsWith('/') ? uri : new Uri(uri.OriginalString + "/"))
                : DefaultMonitoringEndpoint,
        };
    }
}
