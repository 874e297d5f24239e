using Worker.Core.Configuration;
using Worker.Telemetry;
using Worker.TestSupport;

namespace Worker.Tests.Telemetry;

/// <summary>The standard OTEL_* variables read as OpenTelemetry SDKs read them, and bad values stopping start-up with one line.</summary>
public sealed class TelemetrySettingsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static OtlpTarget? Target(Signal signal, params (string, string)[] variables) =>
        OtlpTarget.FromEnvironment(SettingsSource.From(variables), signal);

    [Fact]
    public void Common_endpoint_gets_the_signal_path_over_http_and_stays_as_it_is_over_grpc()
    {
        Assert.Equal("http://collector:4318/v1/traces", Target(Signal.Traces, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"))!.Endpoint.ToString());
        Assert.Equal("http://collector:4318/base/v1/metrics", Target(Signal.Metrics, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/base/"))!.Endpoint.ToString());
        var grpc = Target(Signal.Logs, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"))!;
        Assert.Equal(("http://collector:4317/", true), (grpc.Endpoint.ToString(), grpc.Grpc));
    }

    [Fact]
    public void A_signals_own_variables_win_and_its_headers_add_to_the_common_ones()
    {
        var target = Target(Signal.Traces,
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example/custom/path"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=two%20words"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=3"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"))!;
        Assert.Equal("https://traces.example/custom/path", target.Endpoint.ToString());
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "3" }, target.Headers);
        Assert.Equal(2500, target.TimeoutMilliseconds);
        Assert.Equal("two words", Target(Signal.Metrics, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=two%20words"))!.Headers["b"]);
    }

    [Fact]
    public void No_endpoint_none_or_a_disabled_sdk_sends_nothing()
    {
        Assert.Null(Target(Signal.Traces));
        Assert.Null(Target(Signal.Traces, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_TRACES_EXPORTER", "none")));
        Assert.NotNull(Target(Signal.Metrics, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_TRACES_EXPORTER", "none")));
        Assert.Null(Target(Signal.Logs, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_SDK_DISABLED", "true")));
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL=http/json is not valid: grpc or http/protobuf")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", "OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317 is not valid: an http:// or https:// URL")]
    [InlineData("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", "OTEL_EXPORTER_OTLP_TIMEOUT=soon is not valid: a positive number of milliseconds")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "authorization", "OTEL_EXPORTER_OTLP_HEADERS=(not shown) is not valid: comma-separated key=value pairs")]
    [InlineData("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER=zipkin is not valid: otlp or none")]
    [InlineData("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "many", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=many is not valid: a positive number of spans")]
    [InlineData("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20000", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=20000 is not valid: at most OTEL_BSP_MAX_QUEUE_SIZE (16384)")]
    [InlineData("OTEL_BSP_SCHEDULE_DELAY", "-1", "OTEL_BSP_SCHEDULE_DELAY=-1 is not valid: a positive number of milliseconds")]
    [InlineData("WORKER_TRACE_SAMPLE_RATE", "0", "WORKER_TRACE_SAMPLE_RATE=0 is not valid: an integer from 1 to 1000000")]
    public async Task A_bad_value_stops_exec_with_exit_2_and_one_line_naming_the_variable(string variable, string value, string line)
    {
        var job = _dir.Write("job.yml", "script: [\"true\"]");
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
            [variable] = value,
        };
        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, "exec", job);

        Assert.Equal(2, exit);
        Assert.Equal("worker: " + line, stderr.Trim());
    }
}
