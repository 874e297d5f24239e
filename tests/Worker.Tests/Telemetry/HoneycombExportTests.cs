using Worker.Core.Telemetry;
using Worker.TestSupport;
using Worker.Tests.Otlp;

namespace Worker.Tests.Telemetry;

/// <summary>
/// Honeycomb is OTLP/HTTP to its endpoint with its team and dataset headers. A receiver in the
/// test stands in for Honeycomb (WORKER_HONEYCOMB_ENDPOINT exists for exactly this).
/// </summary>
public sealed class HoneycombExportTests : TwoOtlpReceivers
{
    private const string ApiKey = "hcaik_01telemetrytestkey7f3c";

    [Fact]
    public async Task Two_variables_send_traces_metrics_and_logs_to_honeycomb_with_its_team_and_dataset_headers()
    {
        var job = Dir.Write("job.yml", "script: [\"echo hello honeycomb\"]");
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(Dir.Path, "state"),
            ["WORKER_LOG_LEVEL"] = "information",
            ["WORKER_HONEYCOMB_API_KEY"] = ApiKey,
            ["WORKER_HONEYCOMB_DATASET"] = "ci-fleet",
            ["WORKER_HONEYCOMB_ENDPOINT"] = Honeycomb.HttpEndpoint.ToString(),
        }, Dir.Path, "exec", job);
        Assert.True(exit == 0, stdout + stderr);

        Assert.Equal(["logs", "metrics", "traces"], Honeycomb.Requests.Select(r => r.Signal).Distinct().Order());
        Assert.All(Honeycomb.Requests, r =>
        {
            Assert.Equal("http/protobuf", r.Protocol);
            Assert.Equal("/v1/" + r.Signal, r.Path);
            Assert.Equal(ApiKey, r.Headers["x-honeycomb-team"]);
            Assert.Equal("ci-fleet", r.Headers["x-honeycomb-dataset"]);
        });
        var span = Assert.Single(Honeycomb.Spans, s => s.Name == JobTrace.SpanName);
        Assert.Equal("passed", span.Attribute(TraceAttributes.State));
        Assert.Contains(Honeycomb.Points, p => p.Name == "worker.jobs.finished" && p.Value == 1);
        Assert.Contains(Honeycomb.Logs, l => l.TraceId == span.TraceId);
    }

    [Fact]
    public async Task Honeycomb_and_an_otlp_collector_both_get_everything_and_neither_gets_the_others_headers()
    {
        var job = Dir.Write("job.yml", "script: [\"true\"]");
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(Dir.Path, "state"),
            ["WORKER_LOG_LEVEL"] = "information",
            ["WORKER_HONEYCOMB_API_KEY"] = ApiKey,
            ["WORKER_HONEYCOMB_ENDPOINT"] = Honeycomb.HttpEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Collector.GrpcEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            ["OTEL_EXPORTER_OTLP_HEADERS"] = "x-collector-token=c0ll3ct0r",
            ["OTEL_SERVICE_NAME"] = "ci-worker",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test,team=infra",
        }, Dir.Path, "exec", job);
        Assert.True(exit == 0, stdout + stderr);

        foreach (var receiver in new[] { Honeycomb, Collector })
        {
            var span = Assert.Single(receiver.Spans, s => s.Name == JobTrace.SpanName);
            Assert.Equal(("ci-worker", "test", "infra"),
                (span.Resource.Text("service.name"), span.Resource.Text("deployment.environment"), span.Resource.Text("team")));
        }
        Assert.All(Collector.Requests, r =>
        {
            Assert.Equal("grpc", r.Protocol);
            Assert.Equal("c0ll3ct0r", r.Headers["x-collector-token"]);
            Assert.False(r.Headers.ContainsKey("x-honeycomb-team"));
        });
        Assert.All(Honeycomb.Requests, r => Assert.False(r.Headers.ContainsKey("x-collector-token")));
        Assert.Equal(["logs", "metrics", "traces"], Collector.Requests.Select(r => r.Signal).Distinct().Order());
    }
}
