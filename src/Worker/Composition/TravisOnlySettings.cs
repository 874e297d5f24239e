namespace Worker.Composition;

/// <summary>
/// travis-worker settings this worker has no use for, each with the reason, so an operator moving a
/// travis-worker deployment over learns what became of it instead of seeing it silently ignored.
/// </summary>
public static class TravisOnlySettings
{
    private const string NoHttpQueue = "the http queue (job-board) is not supported; WORKER_QUEUE_TYPE is file or amqp";
    private const string NoTracing = "no tracing exporter is built in";
    private const string NoLibrato = "no Librato metrics; /healthz and /status are on the HTTP server";
    private const string NoSentry = "no Sentry; errors go to the log (WORKER_LOG_FORMAT=json for a collector)";
    private const string ImageChoice = "a job's image is its own `image`, else WORKER_DOCKER_IMAGE_DEFAULT, within WORKER_ALLOWED_IMAGES";
    private const string BuildTraces = "build traces are not collected";
    private const string GceImageChoice = "a job's image is its own `image`, else the newest matching WORKER_GCE_IMAGE_DEFAULT";
    private const string GceRateLimit = "the Compute API rate limit is per worker host (WORKER_GCE_RATE_LIMIT, calls per second); no Redis";

    private static readonly Dictionary<string, string> Reasons = new(StringComparer.Ordinal)
    {
        ["DOCKER_CMD"] = "a job's container runs the job's script as its main process",
        ["DOCKER_EXEC_CMD"] = "a job's container runs the job's script as its main process",
        ["DOCKER_NATIVE"] = "the script always goes in and runs through the Docker API",
        ["DOCKER_INSPECT_INTERVAL"] = "the worker follows the engine's streams instead of polling",
        ["DOCKER_SSH_DIAL_TIMEOUT"] = "nothing is run over SSH in containers",
        ["DOCKER_CPU_SET_SIZE"] = "CPUs are limited by a quota (WORKER_DOCKER_CPUS), not pinned to CPU sets",
        ["DOCKER_IMAGE_SELECTOR_TYPE"] = ImageChoice,
        ["DOCKER_IMAGE_SELECTOR_URL"] = ImageChoice,
        ["DOCKER_API_VERSION"] = "requests carry no API version, so the engine answers in its own",
        ["GCE_IMAGE_SELECTOR_TYPE"] = GceImageChoice,
        ["GCE_IMAGE_SELECTOR_URL"] = GceImageChoice,
        ["GCE_IMAGE_ALIASES"] = GceImageChoice,
        ["GCE_DEFAULT_LANGUAGE"] = GceImageChoice,
        ["GCE_RATE_LIMIT_PREFIX"] = GceRateLimit,
        ["GCE_RATE_LIMIT_REDIS_URL"] = GceRateLimit,
        ["GCE_RATE_LIMIT_MAX_CALLS"] = GceRateLimit,
        ["GCE_RATE_LIMIT_DURATION"] = GceRateLimit,
        ["GCE_RATE_LIMIT_DYNAMIC_CONFIG"] = GceRateLimit,
        ["GCE_RATE_LIMIT_DYNAMIC_CONFIG_TTL"] = GceRateLimit,
        ["GCE_GPU_COUNT"] = "GPUs are not supported yet",
        ["GCE_GPU_TYPE"] = "GPUs are not supported yet",
        ["GCE_DISK_SIZE_WINDOWS"] = "Windows VMs are not supported yet",
        ["GCE_PREMIUM_MACHINE_TYPE"] = "WORKER_GCE_VM_SIZE_MACHINE_TYPES maps a job's vm_size to its machine type",
        ["GCE_WARMER_URL"] = "no VM warmer service is used",
        ["GCE_WARMER_TIMEOUT"] = "no VM warmer service is used",
        ["GCE_WARMER_SSH_PASSPHRASE"] = "no VM warmer service is used",
        ["GCE_DETERMINISTIC_HOSTNAME"] = "a job VM's name is always made from its job id",
        ["GCE_STOP_PRE_POLL_SLEEP"] = "the delete is polled at once, every WORKER_GCE_STOP_POLL_SLEEP",
        ["AMQP_INSECURE"] = "the broker's certificate is always checked; name its CA with WORKER_AMQP_TLS_CA_PATH",
        ["AMQP_TLS_CERT"] = "give the broker's CA as a file with WORKER_AMQP_TLS_CA_PATH",
        ["LOGS_AMQP_TLS_CERT"] = "the logs connection trusts the CA of WORKER_AMQP_TLS_CA_PATH",
        ["LOGS_AMQP_TLS_CERT_PATH"] = "the logs connection trusts the CA of WORKER_AMQP_TLS_CA_PATH",
        ["HTTP_POLLING_INTERVAL"] = NoHttpQueue,
        ["HTTP_REFRESH_CLAIM_INTERVAL"] = NoHttpQueue,
        ["JOB_BOARD_URL"] = NoHttpQueue,
        ["LIBRATO_EMAIL"] = NoLibrato,
        ["LIBRATO_TOKEN"] = NoLibrato,
        ["LIBRATO_SOURCE"] = NoLibrato,
        ["SILENCE_METRICS"] = NoLibrato,
        ["SENTRY_DSN"] = NoSentry,
        ["SENTRY_HOOK_ERRORS"] = NoSentry,
        ["STACKDRIVER_TRACE_ACCOUNT_JSON"] = NoTracing,
        ["STACKDRIVER_PROJECT_ID"] = NoTracing,
        ["OPENCENSUS_TRACING_ENABLED"] = NoTracing,
        ["OPENCENSUS_SAMPLING_RATE"] = NoTracing,
        ["BUILD_TRACE_ENABLED"] = BuildTraces,
        ["BUILD_TRACE_S3_BUCKET"] = BuildTraces,
        ["BUILD_TRACE_S3_KEY_PREFIX"] = BuildTraces,
        ["BUILD_TRACE_S3_REGION"] = BuildTraces,
        ["STATE_UPDATE_POOL_SIZE"] = "states and log parts go through one confirmed publisher per connection",
        ["LOG_POOL_SIZE"] = "states and log parts go through one confirmed publisher per connection",
        ["RABBITMQ_SHARDING"] = "sharded queues are not supported",
        ["PROGRESS_TYPE"] = "start-up progress always goes into the job's log",
        ["PAYLOAD_FILTER_EXECUTABLE"] = "no payload filter is run",
        ["SKIP_SHUTDOWN_ON_LOG_TIMEOUT"] = "a job's machine is always torn down",
        ["INITIAL_SLEEP"] = "a job starts as soon as it is taken",
        ["TRAVIS_SITE"] = "not needed by this worker",
        ["INFRA"] = "not needed by this worker",
        ["DEBUG"] = "use WORKER_LOG_LEVEL=debug",
    };

    /// <summary>Why a travis-worker key (without its prefix) means nothing here; null for keys travis-worker did not have.</summary>
    public static string? Reason(string key) => Reasons.GetValueOrDefault(key);
}
