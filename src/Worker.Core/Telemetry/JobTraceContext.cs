using System.Diagnostics;
using System.Text;
using Worker.Core.Jobs;
using Worker.Core.Scripts;

namespace Worker.Core.Telemetry;

/// <summary>
/// The W3C trace context a job carries: its payload's <c>traceparent</c> and <c>tracestate</c>
/// fields, which a transport fills from its own carrier (the AMQP <c>traceparent</c> header, a
/// Cirrus task's fields) when the payload has none. The job's span is a child of it, and the
/// job's script gets the job span's context as <c>TRACEPARENT</c>/<c>TRACESTATE</c>, so a build
/// that traces itself joins the same trace.
/// </summary>
public static class JobTraceContext
{
    public const string ParentField = "traceparent";
    public const string StateField = "tracestate";

    /// <summary>The payload's trace context; default when it has none or it is not valid W3C.</summary>
    public static ActivityContext Of(JobPayload payload) =>
        JobPayload.Str(payload.Root[ParentField]) is { } parent
        && ActivityContext.TryParse(parent, JobPayload.Str(payload.Root[StateField]), isRemote: true, out var context)
            ? context
            : default;

    /// <summary>Puts a transport's trace context into the payload, unless the payload has its own.</summary>
    public static void Carry(JobPayload payload, string? traceParent, string? traceState)
    {
        if (string.IsNullOrEmpty(traceParent) || JobPayload.Str(payload.Root[ParentField]) is not null)
        {
            return;
        }
        payload.Root[ParentField] = traceParent;
        if (!string.IsNullOrEmpty(traceState))
        {
            payload.Root[StateField] = traceState;
        }
    }

    /// <summary>The <c>traceparent</c> text of <paramref name="context"/>: <c>00-TRACE-SPAN-FLAGS</c>.</summary>
    public static string TraceParent(ActivityContext context) =>
        $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{((context.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00")}";

    /// <summary>
    /// The script with <c>TRACEPARENT</c> (and <c>TRACESTATE</c>) exported right after its
    /// <c>#!</c> line, before anything it runs; unchanged when <paramref name="context"/> is empty.
    /// </summary>
    public static string Export(string script, ActivityContext context)
    {
        if (context == default)
        {
            return script;
        }
        var exports = new StringBuilder();
        exports.Append("export TRACEPARENT=").Append(ShellQuoting.Quote(TraceParent(context))).Append('\n');
        if (!string.IsNullOrEmpty(context.TraceState))
        {
            exports.Append("export TRACESTATE=").Append(ShellQuoting.Quote(context.TraceState)).Append('\n');
        }
        if (!script.StartsWith("#!", StringComparison.Ordinal))
        {
            return string.Concat(exports.ToString(), script);
        }
        // Spans, not substrings: a script is kilobytes, and every job's would be copied twice.
        var text = script.AsSpan();
        var firstLine = script.IndexOf('\n', StringComparison.Ordinal);
        return firstLine < 0
            ? string.Concat(text, "\n", exports.ToString())
            : string.Concat(text[..(firstLine + 1)], exports.ToString(), text[(firstLine + 1)..]);
    }
}
