using System.Diagnostics;
using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace Worker.Composition;

/// <summary>
/// One JSON object a line (<c>WORKER_LOG_FORMAT=json</c>) in the shape Cloud Logging's agents read:
/// <c>severity</c> and <c>message</c> become the entry's level and text, <c>time</c> its timestamp,
/// and <c>logging.googleapis.com/trace</c>, <c>spanId</c> and <c>trace_sampled</c> link it to its trace
/// (the trace as <c>projects/PROJECT/traces/ID</c> when the project is known). Every other property
/// (JobId, Host, SourceContext...) is a field of its own; an exception is in <c>exception</c>, where
/// Error Reporting finds it.
/// </summary>
public sealed class CloudLoggingJsonFormatter(string? traceProject) : ITextFormatter
{
    public const string TraceField = "logging.googleapis.com/trace";
    public const string SpanField = "logging.googleapis.com/spanId";
    public const string SampledField = "logging.googleapis.com/trace_sampled";

    private static readonly HashSet<string> Reserved = ["time", "severity", "message", "exception", TraceField, SpanField, SampledField];

    // The same rendering as the text format ({Message:lj}): strings without quotes, structures as JSON.
    private readonly MessageTemplateTextFormatter _message = new("{Message:lj}", CultureInfo.InvariantCulture);
    private readonly JsonValueFormatter _values = new(typeTagName: null);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        output.Write("{\"time\":\"");
        output.Write(logEvent.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
        output.Write("\",\"severity\":\"");
        output.Write(Severity(logEvent.Level));
        output.Write("\",\"message\":");
        var message = new StringWriter(CultureInfo.InvariantCulture);
        _message.Format(logEvent, message);
        JsonValueFormatter.WriteQuotedJsonString(message.ToString(), output);
        if (logEvent.TraceId is { } trace)
        {
            Field(TraceField, traceProject is null ? trace.ToHexString() : $"projects/{traceProject}/traces/{trace.ToHexString()}", output);
            if (logEvent.SpanId is { } span)
            {
                Field(SpanField, span.ToHexString(), output);
            }
            // The sampling decision is the current activity's, when the event is of it (the console sink writes on the caller's thread).
            if (Activity.Current is { } activity && activity.TraceId == trace)
            {
                output.Write($",\"{SampledField}\":");
                output.Write(activity.Recorded ? "true" : "false");
            }
        }
        if (logEvent.Exception is { } exception)
        {
            Field("exception", exception.ToString(), output);
        }
        foreach (var (name, value) in logEvent.Properties)
        {
            if (Reserved.Contains(name))
            {
                continue;
            }
            output.Write(',');
            JsonValueFormatter.WriteQuotedJsonString(name, output);
            output.Write(':');
            _values.Format(value, output);
        }
        output.Write('}');
        output.Write('\n');
    }

    /// <summary>Cloud Logging's LogSeverity names.</summary>
    public static string Severity(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => "DEBUG",
        LogEventLevel.Information => "INFO",
        LogEventLevel.Warning => "WARNING",
        LogEventLevel.Error => "ERROR",
        LogEventLevel.Fatal => "CRITICAL",
        _ => "DEFAULT",
    };

    private static void Field(string name, string value, TextWriter output)
    {
        output.Write(',');
        JsonValueFormatter.WriteQuotedJsonString(name, output);
        output.Write(':');
        JsonValueFormatter.WriteQuotedJsonString(value, output);
    }
}
