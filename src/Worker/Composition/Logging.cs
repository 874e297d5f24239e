using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Worker.Core.Configuration;
using Worker.Telemetry;

namespace Worker.Composition;

/// <summary>
/// Serilog on stderr: text by default, JSON for Cloud Logging with <c>WORKER_LOG_FORMAT=json</c>
/// (<see cref="CloudLoggingJsonFormatter"/>); every job line carries its JobId. The same lines go to
/// <c>WORKER_LOG_FILE</c> when it is set, and every record, with its trace and span ids, over OTLP
/// when an exporter is configured.
/// </summary>
public static class Logging
{
    /// <summary>The text format's line, on stderr and in the log file.</summary>
    public const string TextTemplate = "{Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ} {Level:u3} {Message:lj}{JobIdSuffix}{NewLine}{Exception}";

    /// <param name="options">The worker's settings.</param>
    /// <param name="traceProject">The Google Cloud project JSON lines name their traces in; null: the bare trace id.</param>
    /// <param name="telemetry">The log file, if any.</param>
    /// <param name="export">Where log records also go over OTLP.</param>
    public static ILoggerFactory CreateLoggerFactory(WorkerOptions options, string? traceProject = null,
        TelemetryOptions? telemetry = null, TelemetryExport? export = null)
    {
        var level = options.Level switch
        {
            "verbose" => LogEventLevel.Verbose,
            "debug" => LogEventLevel.Debug,
            "warning" => LogEventLevel.Warning,
            "error" => LogEventLevel.Error,
            _ => LogEventLevel.Information,
        };
        var config = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .Enrich.With<SecretMaskingEnricher>()
            .Enrich.WithProperty("Host", options.Host);
        config = options.Format == "json"
            ? config.WriteTo.Console(new CloudLoggingJsonFormatter(traceProject), standardErrorFromLevel: LogEventLevel.Verbose)
            : config.WriteTo.Console(
                outputTemplate: TextTemplate,
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
              .Enrich.With<JobIdSuffixEnricher>();
        if (telemetry?.LogPath is { } path)
        {
            config = LogFile.WriteTo(config, path, telemetry, options.Format == "json" ? new CloudLoggingJsonFormatter(traceProject) : null);
        }
        foreach (var target in export?.LogTargets ?? [])
        {
            config = LogExport.WriteTo(config, target, export!.ResourceAttributes);
        }
        return new Serilog.Extensions.Logging.SerilogLoggerFactory(config.CreateLogger(), dispose: true);
    }

    /// <summary>Appends " job=ID" to text lines of a job, so grep finds every line of it.</summary>
    private sealed class JobIdSuffixEnricher : Serilog.Core.ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, Serilog.Core.ILogEventPropertyFactory propertyFactory)
        {
            var suffix = logEvent.Properties.TryGetValue("JobId", out var id) ? " job=" + id : "";
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("JobIdSuffix", suffix));
        }
    }
}
