using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Worker.Tests.Otlp;

/// <summary>OTLP attribute lists as plain dictionaries, ids as lower-case hex.</summary>
public static class OtlpValues
{
    public static IReadOnlyDictionary<string, object?> Map(RepeatedField<KeyValue>? attributes) =>
        (attributes ?? []).ToDictionary(a => a.Key, a => Value(a.Value));

    public static object? Value(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue,
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue,
        AnyValue.ValueOneofCase.ArrayValue => value.ArrayValue.Values.Select(Value).ToList(),
        AnyValue.ValueOneofCase.KvlistValue => value.KvlistValue.Values.ToDictionary(v => v.Key, v => Value(v.Value)),
        AnyValue.ValueOneofCase.BytesValue => value.BytesValue.ToByteArray(),
        _ => null,
    };

    public static string Hex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    /// <summary>An attribute as text, whatever its type (ints as their digits).</summary>
    public static string? Text(this IReadOnlyDictionary<string, object?> attributes, string key) =>
        attributes.TryGetValue(key, out var value) ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;
}

/// <summary>A received span with its scope and resource.</summary>
public sealed record OtlpSpan(
    string Name, string TraceId, string SpanId, string ParentSpanId, Span.Types.SpanKind Kind, string Scope,
    IReadOnlyDictionary<string, object?> Attributes, IReadOnlyDictionary<string, object?> Resource,
    Status.Types.StatusCode StatusCode, string StatusMessage, ulong Start, ulong End, uint Flags)
{
    public static OtlpSpan From(Span span, string scope, IReadOnlyDictionary<string, object?> resource) => new(
        span.Name, OtlpValues.Hex(span.TraceId), OtlpValues.Hex(span.SpanId), OtlpValues.Hex(span.ParentSpanId), span.Kind, scope,
        OtlpValues.Map(span.Attributes), resource, span.Status?.Code ?? Status.Types.StatusCode.Unset, span.Status?.Message ?? "",
        span.StartTimeUnixNano, span.EndTimeUnixNano, span.Flags);

    public string? Attribute(string key) => Attributes.Text(key);
}

/// <summary>One data point of a received metric: a sum or gauge value, or a histogram's count and sum.</summary>
public sealed record OtlpPoint(
    string Name, string Unit, string Kind, IReadOnlyDictionary<string, object?> Attributes, IReadOnlyDictionary<string, object?> Resource,
    double Value, ulong Count, ulong Time)
{
    public static IEnumerable<OtlpPoint> From(Metric metric, IReadOnlyDictionary<string, object?> resource) => metric.DataCase switch
    {
        Metric.DataOneofCase.Sum => metric.Sum.DataPoints.Select(p => Number(metric, "sum", p, resource)),
        Metric.DataOneofCase.Gauge => metric.Gauge.DataPoints.Select(p => Number(metric, "gauge", p, resource)),
        Metric.DataOneofCase.Histogram => metric.Histogram.DataPoints.Select(p => new OtlpPoint(
            metric.Name, metric.Unit, "histogram", OtlpValues.Map(p.Attributes), resource, p.Sum, p.Count, p.TimeUnixNano)),
        _ => [],
    };

    private static OtlpPoint Number(Metric metric, string kind, NumberDataPoint p, IReadOnlyDictionary<string, object?> resource) => new(
        metric.Name, metric.Unit, kind, OtlpValues.Map(p.Attributes), resource,
        p.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? p.AsInt : p.AsDouble, 0, p.TimeUnixNano);

    public string? Attribute(string key) => Attributes.Text(key);
}

/// <summary>A received log record with its trace and span ids.</summary>
public sealed record OtlpLog(string Body, string Severity, string TraceId, string SpanId,
    IReadOnlyDictionary<string, object?> Attributes, IReadOnlyDictionary<string, object?> Resource)
{
    public static OtlpLog From(LogRecord record, IReadOnlyDictionary<string, object?> resource) => new(
        Convert.ToString(OtlpValues.Value(record.Body), CultureInfo.InvariantCulture) ?? "", record.SeverityText,
        OtlpValues.Hex(record.TraceId), OtlpValues.Hex(record.SpanId), OtlpValues.Map(record.Attributes), resource);

    public string? Attribute(string key) => Attributes.Text(key);
}
