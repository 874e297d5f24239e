using Microsoft.Extensions.Logging;
using Worker.Gce.Hosting;
using Worker.Gce.Tests.Fakes;
using Worker.TestSupport;

namespace Worker.Gce.Tests;

/// <summary>The load gauge a host writes to Cloud Monitoring for its group's autoscaler, against a fake Monitoring API.</summary>
public sealed class HostLoadGaugeTests : IAsyncLifetime
{
    private const string Metric = "custom.googleapis.com/worker/load";
    private static readonly GceHost Host = new(FakeComputeApi.Project, "us-central1-b", "ci-worker-worker-x7k2", "4567890123456789012", null);

    private readonly ListLoggerProvider _log = new();
    private readonly HttpClient _http = new();
    private FakeMonitoringApi _api = null!;

    public async Task InitializeAsync() => _api = await FakeMonitoringApi.StartAsync();

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        _http.Dispose();
    }

    private List<string> LogLines()
    {
        lock (_log.Lines)
        {
            return [.. _log.Lines];
        }
    }

    private HostLoadGauge Gauge(Func<HostLoad> load, string token = FakeMonitoringApi.DefaultToken) =>
        new(new MonitoringClient(_http, new StaticAccessToken(token), _api.Endpoint, TimeSpan.FromSeconds(5)), Host, Metric, "test-fleet",
            _ => Task.FromResult(load()), LoggerFactory.Create(b => b.AddProvider(_log)).CreateLogger<HostLoadGauge>());

    [Theory]
    [InlineData(0, 10, null, 3, 0.0)] // idle, queue not visible
    [InlineData(5, 10, null, 3, 0.5)]
    [InlineData(10, 10, 0L, 3, 1.0)] // full, nothing waiting
    [InlineData(10, 10, 30L, 3, 2.0)] // full, and its third of 30 waiting jobs
    [InlineData(0, 0, 4L, 0, 4.0)] // paused pool and an unknown group size count as one processor, one host
    public void The_load_is_busy_processors_plus_a_share_of_the_ready_jobs_over_the_pool_size(int busy, int pool, long? ready, int hosts, double expected)
    {
        Assert.Equal(expected, new HostLoad(busy, pool, ready, hosts).Value, precision: 9);
    }

    [Fact]
    public async Task A_point_is_one_gauge_of_this_instance_in_the_real_timeseries_create_shape()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using var gauge = Gauge(() => new HostLoad(Busy: 3, PoolSize: 4, Ready: 6, Hosts: 3));

        Assert.True(await gauge.WriteOnceAsync(CancellationToken.None), string.Join('\n', LogLines()));

        var (path, body, status) = Assert.Single(_api.Requests);
        Assert.Equal(200, status);
        Assert.Equal($"/v3/projects/{FakeComputeApi.Project}/timeSeries", path);
        var series = Assert.Single(body!["timeSeries"]!.AsArray())!;
        Assert.Equal(Metric, series["metric"]!["type"]!.GetValue<string>());
        Assert.Equal("test-fleet", series["metric"]!["labels"]!["fleet"]!.GetValue<string>());
        Assert.Equal("gce_instance", series["resource"]!["type"]!.GetValue<string>());
        Assert.Equal(FakeComputeApi.Project, series["resource"]!["labels"]!["project_id"]!.GetValue<string>());
        Assert.Equal(Host.InstanceId, series["resource"]!["labels"]!["instance_id"]!.GetValue<string>());
        Assert.Equal("us-central1-b", series["resource"]!["labels"]!["zone"]!.GetValue<string>());
        Assert.Equal("GAUGE", series["metricKind"]!.GetValue<string>());
        Assert.Equal("DOUBLE", series["valueType"]!.GetValue<string>());
        var point = Assert.Single(_api.Points);
        Assert.Equal(1.25, point.Value); // (3 busy + 6 ready / 3 hosts) / 4 processors
        Assert.InRange(point.End, before, DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [Fact]
    public async Task The_gauge_writes_at_start_and_every_interval_and_a_refused_write_is_written_again_next_interval()
    {
        _api.MinimumSpacing = TimeSpan.Zero; // the pacing here is the test's, not Cloud Monitoring's
        _api.Fail(503, "UNAVAILABLE");
        var busy = 0;
        var gauge = Gauge(() => new HostLoad(Interlocked.Increment(ref busy) % 3, 2, null, 1)).Start(TimeSpan.FromMilliseconds(100));

        await Eventually.TrueAsync(() => _api.Points.Count >= 3, "three points are written", explain: () => string.Join('\n', LogLines()));
        await gauge.DisposeAsync();
        var written = _api.Points.Count;
        await Task.Delay(400);

        Assert.Equal(503, _api.Requests.First().Status);
        Assert.Contains(LogLines(), l => l.StartsWith($"Could not write this host's load to {Metric}", StringComparison.Ordinal) && l.Contains("UNAVAILABLE", StringComparison.Ordinal));
        Assert.Equal(written, _api.Points.Count); // stopped with the worker
        Assert.True(_api.Points.Select(p => p.End).SequenceEqual(_api.Points.Select(p => p.End).Order()), "points are written in time order");
    }

    [Fact]
    public async Task A_point_sooner_than_the_sampling_period_allows_is_refused_as_the_real_api_does_and_the_worker_goes_on()
    {
        await using var gauge = Gauge(() => new HostLoad(1, 2, null, 1));

        Assert.True(await gauge.WriteOnceAsync(CancellationToken.None));
        Assert.False(await gauge.WriteOnceAsync(CancellationToken.None));

        Assert.Single(_api.Points);
        Assert.Contains(LogLines(), l => l.Contains("INVALID_ARGUMENT", StringComparison.Ordinal) && l.Contains("more frequently", StringComparison.Ordinal));
        Assert.True(GceHostOptions.MinimumMetricInterval > _api.MinimumSpacing, "the shortest interval the settings allow is one Cloud Monitoring takes");
    }

    [Fact]
    public async Task A_token_the_api_refuses_is_logged_with_the_api_s_own_words()
    {
        await using var gauge = Gauge(() => new HostLoad(1, 2, null, 1), token: "not-the-token");

        Assert.False(await gauge.WriteOnceAsync(CancellationToken.None));

        Assert.Empty(_api.Points);
        Assert.Contains(LogLines(), l => l.Contains("HTTP 401: UNAUTHENTICATED", StringComparison.Ordinal));
    }
}
