using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Worker.Core.Telemetry;
using Worker.TestSupport;
using Worker.Tests.Otlp;

namespace Worker.Tests.Telemetry;

/// <summary>
/// No secret reaches what the worker exports, nor its own log: not its settings' secrets, not a
/// job's (before, a job's outcome line on stderr quoted the script entry that held its secret).
/// </summary>
public sealed partial class TelemetrySecretsTests : TwoOtlpReceivers
{
    private const string HttpToken = "http-t0ken-5ecret-91a";
    private const string HoneycombKey = "hcaik-5ecret-7c2d";
    private const string CollectorToken = "c0llector-5ecret-4e8";
    private const string AmqpPassword = "amqp-pa55-5ecret-d1";
    private const string JobSecret = "j0b-5ecret-value-66";
    private const string EnvVarSecret = "env-var-5ecret-b7";

    private string QueueDir => Path.Combine(Dir.Path, "state", "builds.secrets");

    private void Drop(long id, string json)
    {
        var created = Path.Combine(QueueDir, "10-created.d");
        Directory.CreateDirectory(created);
        File.WriteAllText(Path.Combine(created, ".tmp"), json);
        File.Move(Path.Combine(created, ".tmp"), Path.Combine(created, id.ToString(CultureInfo.InvariantCulture) + ".json"));
    }

    private static string Job(long id, string script) => $$$"""
        {"type": "test", "job": {"id": {{{id}}}, "number": "1.{{{id}}}"}, "repository": {"slug": "octo/secrets"},
         "env_vars": [{"name": "PRIVATE_VAR", "value": "{{{EnvVarSecret}}}", "public": false},
                      {"name": "API_TOKEN", "value": "{{{JobSecret}}}", "public": false}],
         "config": {"script": [{{{script}}}]}}
        """;

    [Fact]
    public async Task No_secret_value_is_in_any_exported_span_metric_or_log_record()
    {
        var file = Core.Jobs.JobFile.Parse($"id: 1\nsecrets: {{API_TOKEN: {JobSecret}}}\nscript: [\"true\"]", "builds.secrets");
        Assert.Contains(JobSecret, file.SecretValues); // the job file's secrets are the payload's private env_vars

        await using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(Dir.Path, "state"),
            ["WORKER_QUEUE_NAME"] = "builds.secrets",
            ["WORKER_QUEUE_TYPE"] = "file", // the broker URI is only there to be kept secret
            ["WORKER_PROVIDER_NAME"] = "local",
            ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
            ["WORKER_LOG_LEVEL"] = "verbose",
            ["WORKER_HTTP_ADDR"] = "127.0.0.1:0",
            ["WORKER_HTTP_AUTH_TOKEN"] = HttpToken,
            ["WORKER_AMQP_URI"] = $"amqp://worker:{AmqpPassword}@127.0.0.1:5672/",
            ["WORKER_HONEYCOMB_API_KEY"] = HoneycombKey,
            ["WORKER_HONEYCOMB_ENDPOINT"] = Honeycomb.HttpEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Collector.HttpEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_HEADERS"] = $"authorization=Bearer%20{CollectorToken}",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "300",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        }, Dir.Path, "run");
        Drop(2001, Job(2001, "\"echo token=$API_TOKEN var=$PRIVATE_VAR\""));
        Drop(2002, Job(2002, $"\"echo {JobSecret}; exit 3\""));
        Drop(2003, Job(2003, $"\"echo {EnvVarSecret} >&2; exit 1\""));
        // A script the generator refuses, quoting the bad entry: the secret is in the reason the job errored.
        Drop(2004, Job(2004, $"{{\"run\": \"deploy --token {JobSecret}\"}}"));
        await Eventually.TrueAsync(() => new[] { 2001, 2002, 2003, 2004 }.All(id => File.Exists(Path.Combine(QueueDir, "70-finished.d", $"{id}.state"))),
            "the three jobs finished", gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        string? address = null;
        await Eventually.TrueAsync(() => (address = BoundAddress().Match(worker.Stderr) is { Success: true } m ? m.Groups[1].Value : null) is not null,
            "the worker's HTTP server is up", gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        using var http = new HttpClient();
        var metricsPage = await http.GetStringAsync($"http://{address}/metrics");
        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        // Not vacuous: the jobs, their metrics and the worker's log lines were all exported, to both.
        foreach (var receiver in new[] { Honeycomb, Collector })
        {
            Assert.Equal(4, receiver.Spans.Count(s => s.Name == JobTrace.SpanName));
            Assert.Contains(receiver.Points, p => p.Name == "worker.jobs.finished");
            Assert.Contains(receiver.Logs, l => l.Attribute("JobId") == "2002");
        }
        Assert.Equal(HoneycombKey, Honeycomb.Requests[0].Headers["x-honeycomb-team"]);
        Assert.Equal("Bearer " + CollectorToken, Collector.Requests[0].Headers["authorization"]);
        Assert.Contains("worker_jobs_finished_total", metricsPage);

        foreach (var secret in new[] { HttpToken, HoneycombKey, CollectorToken, AmqpPassword, JobSecret, EnvVarSecret })
        {
            var bytes = Encoding.UTF8.GetBytes(secret);
            foreach (var request in Honeycomb.Requests.Concat(Collector.Requests))
            {
                Assert.True(request.Body.AsSpan().IndexOf(bytes) < 0, $"{secret} is in a {request.Signal} export");
            }
            Assert.DoesNotContain(secret, metricsPage);
            Assert.DoesNotContain(secret, worker.Stderr); // the same lines on stderr
        }
    }

    [GeneratedRegex(@"Health and control server on http://([0-9.]+:[0-9]+)")]
    private static partial Regex BoundAddress();
}
