using Worker.Core.Configuration;

namespace Worker.Telemetry;

/// <summary>The three kinds of telemetry, as the OTLP variables and paths name them.</summary>
public enum Signal
{
    Traces,
    Metrics,
    Logs,
}

/// <summary>
/// Where one signal goes over OTLP and how: the full endpoint (with <c>/v1/traces</c> and so on
/// for HTTP), the protocol, the headers and the timeout.
/// </summary>
public sealed record OtlpTarget(Uri Endpoint, bool Grpc, IReadOnlyDictionary<string, string> Headers, int TimeoutMilliseconds)
{
    public const string HttpProtobuf = "http/protobuf";
    public const string GrpcProtocol = "grpc";

    /// <summary>
    /// The signal's target from the standard variables, as OpenTelemetry SDKs read them: the signal's
    /// own <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> as it is, else <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
    /// plus <c>/v1/traces</c> for HTTP; <c>_PROTOCOL</c> (http/protobuf, the default, or grpc),
    /// <c>_HEADERS</c> (<c>k=v,k2=v2</c>, the signal's added over the common ones) and <c>_TIMEOUT</c>
    /// (ms). Null when neither endpoint is set, <c>OTEL_TRACES_EXPORTER=none</c> (or _METRICS_, _LOGS_)
    /// or <c>OTEL_SDK_DISABLED=true</c>. A bad value stops start-up naming the variable.
    /// </summary>
    public static OtlpTarget? FromEnvironment(SettingsSource env, Signal signal)
    {
        var name = signal.ToString().ToUpperInvariant();
        if (string.Equals(env.Raw("OTEL_SDK_DISABLED")?.Trim(), "true", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var exporter = $"OTEL_{name}_EXPORTER";
        switch (env.Raw(exporter)?.Trim().ToLowerInvariant())
        {
            case null or "otlp":
                break;
            case "none":
                return null;
            default:
                throw new InvalidSettingException(exporter, env.Raw(exporter), "otlp or none");
        }
        var protocol = Read(env, name, "PROTOCOL") is { } p ? p : (Variable: "", Value: HttpProtobuf);
        var grpc = protocol.Value.Trim().ToLowerInvariant() switch
        {
            GrpcProtocol => true,
            HttpProtobuf => false,
            _ => throw new InvalidSettingException(protocol.Variable, protocol.Value, "grpc or http/protobuf"),
        };
        Uri endpoint;
        if (env.Raw($"OTEL_EXPORTER_OTLP_{name}_ENDPOINT") is { } own)
        {
            endpoint = Absolute($"OTEL_EXPORTER_OTLP_{name}_ENDPOINT", own);
        }
        else if (env.Raw("OTEL_EXPORTER_OTLP_ENDPOINT") is { } common)
        {
            endpoint = Absolute("OTEL_EXPORTER_OTLP_ENDPOINT", common);
            endpoint = grpc ? endpoint : WithSignalPath(endpoint, signal);
        }
        else
        {
            return null;
        }
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var variable in new[] { "OTEL_EXPORTER_OTLP_HEADERS", $"OTEL_EXPORTER_OTLP_{name}_HEADERS" })
        {
            if (env.Raw(variable) is { } text)
            {
                ParseHeaders(variable, text, headers);
            }
        }
        var timeout = 10_000;
        if (Read(env, name, "TIMEOUT") is { } t)
        {
            timeout = OtelNumbers.Positive(t.Variable, t.Value, "a positive number of milliseconds");
        }
        return new OtlpTarget(endpoint, grpc, headers, timeout);
    }

    /// <summary>Honeycomb's OTLP/HTTP intake for the signal, with its team and dataset headers.</summary>
    public static OtlpTarget Honeycomb(TelemetryOptions options, Signal signal) =>
        new(WithSignalPath(options.Honeycomb, signal), Grpc: false,
            new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["x-honeycomb-team"] = options.HoneycombKey ?? "",
                ["x-honeycomb-dataset"] = options.Dataset,
            },
            10_000);

    /// <summary>The headers as OpenTelemetry's exporter options take them: <c>k=v,k2=v2</c>.</summary>
    public string HeaderText => string.Join(',', Headers.Select(h => h.Key + "=" + h.Value));

    /// <summary><c>BASE/v1/traces</c> (or metrics, logs): the collector's convention for a base endpoint over HTTP.</summary>
    public static Uri WithSignalPath(Uri endpoint, Signal signal)
    {
        var text = endpoint.AbsoluteUri;
        return new Uri(text.TrimEnd('/') + "/v1/" + signal.ToString().ToLowerInvariant());
    }

    private static (string Variable, string Value)? Read(SettingsSource env, string signal, string what)
    {
        foreach (var variable in new[] { $"OTEL_EXPORTER_OTLP_{signal}_{what}", $"OTEL_EXPORTER_OTLP_{what}" })
        {
            if (env.Raw(variable) is { } value)
            {
                return (variable, value);
            }
        }
        return null;
    }

    private static Uri Absolute(string variable, string text) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new InvalidSettingException(variable, text, "an http:// or https:// URL");

    private static void ParseHeaders(string variable, string text, Dictionary<string, string> headers)
    {
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                // Header values are often credentials: the line names the variable, not its value.
                throw new InvalidSettingException(variable, "(not shown)", "comma-separated key=value pairs");
            }
            headers[Uri.UnescapeDataString(pair[..equals].Trim())] = Uri.UnescapeDataString(pair[(equals + 1)..].Trim());
        }
    }
}
