using System.Collections.Frozen;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Worker.Core.Configuration;

/// <summary>
/// The names travis-worker reads besides <c>TRAVIS_WORKER_KEY</c>, so its env files work here
/// unchanged: each of its own settings also bare (<c>POOL_SIZE</c>), and each setting of a backend
/// as <c>PROVIDER_KEY</c> (<c>GCE_DISK_SIZE</c>), whose values it URL-unescaped (not those of keys
/// ending in <c>ACCOUNT_JSON</c>): worker-gcp-standalone writes the image pattern
/// <c>travis-ci-garnet-trusty.%2B</c>. Only travis-worker's names are read bare, so an unrelated
/// variable (<c>LOG_LEVEL</c>, Jenkins' <c>BUILD_NUMBER</c>) is never taken for a setting.
/// </summary>
public static partial class TravisNames
{
    /// <summary>travis-worker's own settings (config/config.go).</summary>
    private static readonly FrozenSet<string> Flags = new[]
    {
        "PROVIDER_NAME", "QUEUE_TYPE", "QUEUE_NAME", "AMQP_URI", "LOGS_AMQP_URI", "POOL_SIZE",
        "HARD_TIMEOUT", "LOG_TIMEOUT", "MAX_LOG_LENGTH", "SCRIPT_UPLOAD_TIMEOUT", "STARTUP_TIMEOUT",
        "INITIAL_SLEEP", "STATE_UPDATE_POOL_SIZE", "LOG_POOL_SIZE", "HTTP_POLLING_INTERVAL",
        "HTTP_REFRESH_CLAIM_INTERVAL", "FILE_POLLING_INTERVAL", "DEFAULT_LANGUAGE", "DEFAULT_DIST",
        "DEFAULT_ARCH", "DEFAULT_GROUP", "DEFAULT_OS", "JOB_BOARD_URL", "TRAVIS_SITE", "BASE_DIR",
        "HOSTNAME", "INFRA", "AMQP_HEARTBEAT", "AMQP_CONSUMER_PRIORITY", "AMQP_INSECURE", "AMQP_TLS_CERT",
        "AMQP_TLS_CERT_PATH", "LOGS_AMQP_TLS_CERT", "LOGS_AMQP_TLS_CERT_PATH", "RABBITMQ_SHARDING", "PAYLOAD_FILTER_EXECUTABLE",
        "SKIP_SHUTDOWN_ON_LOG_TIMEOUT", "PROGRESS_TYPE", "SENTRY_DSN", "SENTRY_HOOK_ERRORS",
        "LIBRATO_EMAIL", "LIBRATO_TOKEN", "LIBRATO_SOURCE", "SILENCE_METRICS", "OPENCENSUS_TRACING_ENABLED",
        "OPENCENSUS_SAMPLING_RATE", "STACKDRIVER_PROJECT_ID", "STACKDRIVER_TRACE_ACCOUNT_JSON",
        "REMOTE_CONTROLLER_ADDR", "REMOTE_CONTROLLER_AUTH", "HEARTBEAT_URL", "HEARTBEAT_URL_AUTH_TOKEN",
        "START_HOOK", "STOP_HOOK", "DEBUG",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>travis-build's settings that travis-worker passes on (BUILD_API_URI, BUILD_CACHE_*, BUILD_TRACE_*...).</summary>
    private const string BuildPrefix = "BUILD_";

    /// <summary>The backends travis-worker and this worker both have.</summary>
    private static readonly string[] ProviderPrefixes = ["DOCKER_", "GCE_", "FAKE_"];

    /// <summary>
    /// The Docker CLI's own variables, set on many hosts for it: travis-worker read them as its
    /// docker settings too, but here DOCKER_HOST and DOCKER_CERT_PATH are read as the CLI reads
    /// them (the Docker backend takes the certificates for a tcp:// endpoint only), and the others
    /// are not settings.
    /// </summary>
    private static readonly FrozenSet<string> DockerCliVariables = new[]
    {
        "DOCKER_HOST", "DOCKER_API_VERSION", "DOCKER_TLS_VERIFY", "DOCKER_CONFIG", "DOCKER_CONTEXT",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Whether travis-worker reads <paramref name="key"/> as a variable of that very name (and it is not another program's).</summary>
    public static bool ReadsBare(string key) =>
        Flags.Contains(key) || key.StartsWith(BuildPrefix, StringComparison.Ordinal) || IsProviderKey(key) && !DockerCliVariables.Contains(key);

    /// <summary>
    /// Whether a variable of that name says the settings are travis-worker's: one of its own settings,
    /// but not a name other programs set too (a shell's <c>HOSTNAME</c>, <c>DEBUG</c>).
    /// </summary>
    public static bool MarksTravisForm(string name) => Flags.Contains(name) && name is not ("HOSTNAME" or "DEBUG");

    /// <summary>A backend's setting, which travis-worker URL-unescapes.</summary>
    public static bool IsProviderKey(string key) =>
        ProviderPrefixes.Any(prefix => key.StartsWith(prefix, StringComparison.Ordinal) && key.Length > prefix.Length);

    /// <summary>
    /// The value as travis-worker took it from a variable of its own naming: Go's
    /// <c>url.QueryUnescape</c> for a backend's setting (<c>%2B</c> is <c>+</c>, <c>+</c> a space), kept
    /// as written when it is not a valid escape, as travis-worker kept it; other values as they are.
    /// Its Docker sizes (<c>DOCKER_MEMORY</c>, <c>DOCKER_SHM</c>) come back as the number of bytes
    /// travis-worker made of them (see <see cref="TravisByteSizes"/>).
    /// </summary>
    public static string ValueAsTravisRead(string key, string value)
    {
        var unescaped = IsProviderKey(key) && !key.EndsWith("ACCOUNT_JSON", StringComparison.Ordinal) && QueryUnescape(value) is { } u ? u : value;
        return TravisSizedKeys.Contains(key) && TravisByteSizes.Parse(unescaped) is { } bytes
            ? bytes.ToString(CultureInfo.InvariantCulture)
            : unescaped;
    }

    private static readonly HashSet<string> TravisSizedKeys = new(StringComparer.Ordinal) { "DOCKER_MEMORY", "DOCKER_SHM" };

    /// <summary>Go's url.QueryUnescape: null when a <c>%</c> is not followed by two hex digits.</summary>
    internal static string? QueryUnescape(string value) =>
        InvalidEscape().IsMatch(value) ? null : WebUtility.UrlDecode(value);

    [GeneratedRegex("%(?![0-9A-Fa-f]{2})")]
    private static partial Regex InvalidEscape();
}
