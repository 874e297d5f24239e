using System.Globalization;
using System.Text.RegularExpressions;
using Worker.TestSupport;

namespace Worker.Tests.Telemetry;

/// <summary>`worker run` serves its metrics at /metrics in Prometheus's text format, and a real Prometheus that scrapes it counts its jobs.</summary>
public sealed partial class PrometheusScrapeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string QueueDir => Path.Combine(_dir.Path, "state", "builds.metrics");

    private void Drop(long id, string yaml)
    {
        var created = Path.Combine(QueueDir, "10-created.d");
        Directory.CreateDirectory(created);
        var payload = Core.Jobs.JobFile.Parse($"id: {id}\n{yaml}", "builds.metrics");
        File.WriteAllText(Path.Combine(created, ".tmp"), payload.ToJson());
        File.Move(Path.Combine(created, ".tmp"), Path.Combine(created, id.ToString(CultureInfo.InvariantCulture) + ".json"));
    }

    private bool Finished(long id) => File.Exists(Path.Combine(QueueDir, "70-finished.d", $"{id}.state"));

    [Fact]
    public async Task Prometheus_scraping_worker_run_counts_its_finished_jobs_by_state()
    {
        await using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["WORKER_QUEUE_NAME"] = "builds.metrics",
            ["WORKER_PROVIDER_NAME"] = "local",
            ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
            ["WORKER_POOL_SIZE"] = "2",
            ["WORKER_HTTP_ADDR"] = "127.0.0.1:0",
        }, _dir.Path, "run");
        string? address = null;
        await Eventually.TrueAsync(() => (address = BoundAddress().Match(worker.Stderr) is { Success: true } m ? m.Groups[1].Value : null) is not null,
            "the worker's HTTP server is up", gaveUp: () => worker.HasExited, explain: () => worker.Stderr);

        Drop(1001, "script: [\"true\"]");
        Drop(1002, "script: [\"true\"]");
        Drop(1003, "script: [\"exit 1\"]");
        await Eventually.TrueAsync(() => Finished(1001) && Finished(1002) && Finished(1003), "the three jobs finished",
            gaveUp: () => worker.HasExited, explain: () => worker.Stderr);

        // The text format, as `curl http://ADDR/metrics` shows it.
        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://{address}/metrics");
        Assert.Contains("# TYPE worker_jobs_finished_total counter", text);
        Assert.Matches("""worker_jobs_finished_total\{[^}]*state="passed"[^}]*worker_backend="local"[^}]*\} 2""", text);

        await using var prometheus = await PrometheusServer.StartAsync(_dir.Path, address!);
        await Eventually.TrueAsync(async () => await prometheus.QueryAsync("sum(worker_jobs_finished_total)") == 3,
            "Prometheus counts 3 finished jobs", explain: () => prometheus.Output);
        Assert.Equal(1, await prometheus.TargetUpAsync());
        Assert.Equal(2, await prometheus.QueryAsync("sum(worker_jobs_finished_total{state=\"passed\",worker_backend=\"local\"})"));
        Assert.Equal(1, await prometheus.QueryAsync("sum(worker_jobs_finished_total{state=\"failed\"})"));
        Assert.Equal(3, await prometheus.QueryAsync("sum(worker_script_run_duration_seconds_count)"));
        Assert.Equal(2, await prometheus.QueryAsync("worker_pool_size"));
    }

    [GeneratedRegex(@"Health and control server on http://([0-9.]+:[0-9]+)")]
    private static partial Regex BoundAddress();
}
