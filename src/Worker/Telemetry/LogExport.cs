using Serilog;
using Serilog.Sinks.OpenTelemetry;

namespace Worker.Telemetry;

/// <summary>
/// The worker's log records over OTLP (Serilog.Sinks.OpenTelemetry): every record with its trace
/// and span ids (a job's lines are its span's), its properties (JobId, Host...) as attributes,
/// and the same resource as the spans and metrics.
/// </summary>
public static class LogExport
{
    public static LoggerConfiguration WriteTo(LoggerConfiguration config, OtlpTarget target, IReadOnlyDictionary<string, object> resource) =>
        config.WriteTo.OpenTelemetry(sink =>
        {
            sink.Endpoint = null;
            sink.LogsEndpoint = target.Endpoint.AbsoluteUri;
            sink.Protocol = target.Grpc ? OtlpProtocol.Grpc : OtlpProtocol.HttpProtobuf;
            sink.Headers = target.Headers.ToDictionary(h => h.Key, h => h.Value);
            sink.ResourceAttributes = resource.ToDictionary(a => a.Key, a => a.Value);
        },
        // The target is read from the variables already (Honeycomb's must not be overridden by OTEL_EXPORTER_OTLP_*).
        ignoreEnvironment: true);
}
