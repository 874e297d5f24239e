using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;
using Worker.Core.Telemetry;

namespace Worker.Telemetry;

/// <summary>
/// Where the worker's telemetry goes, wired once per process from its settings: spans of the
/// <c>Worker</c> source and metrics of the <c>Worker</c> meter over OTLP (the standard
/// <c>OTEL_*</c> variables) and to Honeycomb (<c>WORKER_HONEYCOMB_API_KEY</c>), metrics for
/// Prometheus at <c>/metrics</c> when the HTTP server runs, and the log targets for Serilog.
/// With none of these, no provider exists and nothing is recorded. Disposing flushes.
/// </summary>
public sealed class TelemetryExport : IDisposable
{
    private TelemetryExport(TracerProvider? traces, MeterProvider? metrics, IReadOnlyList<OtlpTarget> logTargets,
        IReadOnlyDictionary<string, object> resource)
    {
        Traces = traces;
        Metrics = metrics;
        LogTargets = logTargets;
        ResourceAttributes = resource;
    }

    public TracerProvider? Traces { get; }

    /// <summary>The meter provider; it serves <c>/metrics</c> when it was built with the Prometheus exporter.</summary>
    public MeterProvider? Metrics { get; }

    /// <summary>Where the worker's log records go over OTLP.</summary>
    public IReadOnlyList<OtlpTarget> LogTargets { get; }

    /// <summary>The resource (service.name, service.version, host...) every signal carries.</summary>
    public IReadOnlyDictionary<string, object> ResourceAttributes { get; }

    /// <param name="env">The process's variables (WORKER_* and OTEL_*).</param>
    /// <param name="options">The worker's settings (its host and fleet name the resource).</param>
    /// <param name="telemetry">Honeycomb and sampling.</param>
    /// <param name="prometheus">Whether <c>/metrics</c> will be served (WORKER_HTTP_ADDR is set).</param>
    public static TelemetryExport Start(SettingsSource env, WorkerOptions options, TelemetryOptions telemetry, bool prometheus)
    {
        var resource = ResourceBuilder.CreateEmpty()
            .AddService("worker", serviceVersion: WorkerVersion.Text, autoGenerateServiceInstanceId: false, serviceInstanceId: options.Host)
            .AddAttributes([new("host.name", options.Host), new("worker.fleet", options.Fleet)])
            .AddTelemetrySdk()
            .AddEnvironmentVariableDetector(); // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
        var traceTargets = Targets(env, telemetry, Signal.Traces);
        var metricTargets = Targets(env, telemetry, Signal.Metrics);
        var logTargets = Targets(env, telemetry, Signal.Logs);
        var interval = MetricInterval(env);
        var temporality = Temporality(env);

        TracerProvider? traces = null;
        if (traceTargets.Count > 0)
        {
            var batch = BatchOptions(env);
            var exporters = new CompositeProcessor<Activity>(traceTargets.Select(t => new BatchActivityExportProcessor(
                new OtlpTraceExporter(ExporterOptions(t)), batch.MaxQueueSize, batch.ScheduledDelayMilliseconds,
                batch.ExporterTimeoutMilliseconds, batch.MaxExportBatchSize)));
            traces = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(resource)
                .AddSource(WorkerTelemetry.Name)
                // Every job is recorded; which are kept is decided when each ends (JobSampling).
                .SetSampler(new AlwaysOnSampler())
                .AddProcessor(telemetry.SampleRate > 1 ? new JobSampling(telemetry.SampleRate, exporters) : exporters)
                .Build();
        }

        MeterProvider? metrics = null;
        if (metricTargets.Count > 0 || prometheus)
        {
            var builder = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(WorkerTelemetry.Name);
            foreach (var target in metricTargets)
            {
                builder.AddReader(new PeriodicExportingMetricReader(new OtlpMetricExporter(ExporterOptions(target)), interval)
                {
                    // Honeycomb wants deltas; an OTLP collector takes what OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says.
                    TemporalityPreference = IsHoneycomb(target, telemetry) ? MetricReaderTemporalityPreference.Delta : temporality,
                });
            }
            if (prometheus)
            {
                builder.AddPrometheusExporter();
            }
            metrics = builder.Build();
        }

        var attributes = resource.Build().Attributes.ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
        return new TelemetryExport(traces, metrics, logTargets, attributes);
    }

    public void Dispose()
    {
        Traces?.Dispose();
        Metrics?.Dispose();
    }

    private static List<OtlpTarget> Targets(SettingsSource env, TelemetryOptions telemetry, Signal signal)
    {
        var targets = new List<OtlpTarget>();
        if (OtlpTarget.FromEnvironment(env, signal) is { } otlp)
        {
            targets.Add(otlp);
        }
        if (telemetry.HoneycombKey is not null)
        {
            targets.Add(OtlpTarget.Honeycomb(telemetry, signal));
        }
        return targets;
    }

    private static bool IsHoneycomb(OtlpTarget target, TelemetryOptions telemetry) =>
        telemetry.HoneycombKey is not null && target.Headers.ContainsKey("x-honeycomb-team");

    private static OtlpExporterOptions ExporterOptions(OtlpTarget target) => new()
    {
        Endpoint = target.Endpoint,
        Protocol = target.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf,
        Headers = target.Headers.Count > 0 ? target.HeaderText : null,
        TimeoutMilliseconds = target.TimeoutMilliseconds,
    };

    /// <summary>
    /// The span batches from the worker's settings (<c>OTEL_BSP_*</c>, the SDK's names and
    /// defaults), except the queue: 16384 spans rather than 2048, which a busy host's bursts
    /// overflow. Batches stay at 512 spans: larger ones keep spans alive past a collection, and
    /// at pool 8 without a broker batches of 2048 cost about 6 us more CPU per job than 512.
    /// </summary>
    private static BatchExportActivityProcessorOptions BatchOptions(SettingsSource env)
    {
        const string batchSize = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
        var queue = OtelNumbers.Positive(env, "OTEL_BSP_MAX_QUEUE_SIZE", 16384, "a positive number of spans");
        var batch = OtelNumbers.Positive(env, batchSize, Math.Min(512, queue), "a positive number of spans");
        if (batch > queue)
        {
            throw new InvalidSettingException(batchSize, env.Raw(batchSize)!, $"at most OTEL_BSP_MAX_QUEUE_SIZE ({queue})");
        }
        return new BatchExportActivityProcessorOptions
        {
            MaxQueueSize = queue,
            MaxExportBatchSize = batch,
            ScheduledDelayMilliseconds = OtelNumbers.Positive(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, "a positive number of milliseconds"),
            ExporterTimeoutMilliseconds = OtelNumbers.Positive(env, "OTEL_BSP_EXPORT_TIMEOUT", 30000, "a positive number of milliseconds"),
        };
    }

    /// <summary><c>OTEL_METRIC_EXPORT_INTERVAL</c> in ms (default 60000), as the SDKs read it.</summary>
    private static int MetricInterval(SettingsSource env) =>
        OtelNumbers.Positive(env, "OTEL_METRIC_EXPORT_INTERVAL", 60_000, "a positive number of milliseconds");

    private static MetricReaderTemporalityPreference Temporality(SettingsSource env)
    {
        const string variable = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
        return env.Raw(variable)?.Trim().ToLowerInvariant() switch
        {
            null or "cumulative" => MetricReaderTemporalityPreference.Cumulative,
            "delta" => MetricReaderTemporalityPreference.Delta,
            var other => throw new InvalidSettingException(variable, other, "cumulative or delta"),
        };
    }
}
