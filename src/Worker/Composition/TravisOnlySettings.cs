namespace Worker.Composition;

/// <summary>
/// travis-worker settings this worker has no use for, each with the reason, so an operator moving a
/// travis-worker deployment over learns what became of it instead of seeing it silently ignored.
/// </summary>
public static class TravisOnlySettings
{
    private const string OtlpTraces = "traces go over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT, or WORKER_HONEYCOMB_API_KEY); an OpenTelemetry collector forwards them to Cloud Trace";
    private const string NoLibrato = "no Librato; metrics are served at /metrics for Prometheus (WORKER_HTTP_ADDR) and go over OTLP";
    private const string NoSentry = "no Sentry; errors go to the log (stderr, WORKER_LOG_FILE, and over OTLP when an exporter is set)";
    private const string BuildTraces = "build traces are not collected";
    private const string RemoteControl = "the control API is the HTTP server at WORKER_HTTP_ADDR (GET /status, PUT /pool, POST /drain) behind WORKER_HTTP_AUTH_TOKEN";

    /// <summary>The worker's own; each backend and job source names its own in its registration.</summary>
    private static readonly Dictionary<string, string> General = new(StringComparer.Ordinal)
    {
        ["LIBRATO_EMAIL"] = NoLibrato,
        ["LIBRATO_TOKEN"] = NoLibrato,
        ["LIBRATO_SOURCE"] = NoLibrato,
        ["SILENCE_METRICS"] = NoLibrato,
        ["SENTRY_DSN"] = NoSentry,
        ["SENTRY_HOOK_ERRORS"] = NoSentry,
        ["STACKDRIVER_TRACE_ACCOUNT_JSON"] = OtlpTraces,
        ["STACKDRIVER_PROJECT_ID"] = OtlpTraces,
        ["OPENCENSUS_TRACING_ENABLED"] = OtlpTraces,
        ["OPENCENSUS_SAMPLING_RATE"] = "use WORKER_TRACE_SAMPLE_RATE (the same 1 in N, and errored or requeued jobs are always kept)",
        ["BUILD_TRACE_ENABLED"] = BuildTraces,
        ["BUILD_TRACE_S3_BUCKET"] = BuildTraces,
        ["BUILD_TRACE_S3_KEY_PREFIX"] = BuildTraces,
        ["BUILD_TRACE_S3_REGION"] = BuildTraces,
        ["PROGRESS_TYPE"] = "start-up progress always goes into the job's log",
        ["SKIP_SHUTDOWN_ON_LOG_TIMEOUT"] = "a job's machine is always torn down",
        ["INITIAL_SLEEP"] = "a job starts as soon as it is taken",
        ["DEBUG"] = "use WORKER_LOG_LEVEL=debug",
        ["REMOTE_CONTROLLER_ADDR"] = RemoteControl,
        ["REMOTE_CONTROLLER_AUTH"] = RemoteControl,
    };

    private static readonly Dictionary<string, string> Reasons = General
        .Concat(JobSources.All.SelectMany(s => s.TravisOnlySettings))
        .Concat(Backends.All.SelectMany(b => b.TravisOnlySettings))
        .ToDictionary(StringComparer.Ordinal);

    /// <summary>Why a travis-worker key (without its prefix) means nothing here; null for keys travis-worker did not have.</summary>
    public static string? Reason(string key) => Reasons.GetValueOrDefault(key);
}
