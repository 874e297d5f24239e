namespace Worker.Core.Configuration;

/// <summary>
/// The worker's own settings (queue, pool, timeouts, logs). Backends and job sources have their own;
/// which ones run (WORKER_PROVIDER_NAME, WORKER_QUEUE_TYPE) the executable's registration lists decide.
/// </summary>
public sealed record WorkerOptions
{
    public static readonly Setting<string> QueueName = Setting.Text("QUEUE_NAME", "builds.linux",
        "Job queue name (AMQP queue, job-board queue, or folder under BASE_DIR for the file queue).", "a non-empty name");
    public static readonly Setting<string> BaseDir = Setting.Text("BASE_DIR", ".worker",
        "Folder for the file queue and the local backend's working directories.");
    public static readonly Setting<int> PoolSize = Setting.Int("POOL_SIZE", 1,
        "Jobs run at once on this host.", min: 1, max: 1000);
    public static readonly Setting<TimeSpan> HardTimeout = Setting.Duration("HARD_TIMEOUT", TimeSpan.FromMinutes(50),
        "Longest a job's script may run, unless the job sets timeouts.hard_limit.");
    public static readonly Setting<TimeSpan> LogTimeout = Setting.Duration("LOG_TIMEOUT", TimeSpan.FromMinutes(10),
        "Longest a job may print nothing, unless the job sets timeouts.log_silence.");
    public static readonly Setting<long> MaxLogLength = Setting.Bytes("MAX_LOG_LENGTH", 4_500_000,
        "Largest log a job may write; past it the job is errored.", min: 1);
    public static readonly Setting<TimeSpan> StartupTimeout = Setting.Duration("STARTUP_TIMEOUT", TimeSpan.FromMinutes(4),
        "Longest a backend may take to boot a machine.");
    public static readonly Setting<TimeSpan> ScriptUploadTimeout = Setting.Duration("SCRIPT_UPLOAD_TIMEOUT", TimeSpan.FromSeconds(210),
        "Longest the script upload may take.");
    public static readonly Setting<TimeSpan> TeardownTimeout = Setting.Duration("TEARDOWN_TIMEOUT", TimeSpan.FromMinutes(2),
        "Longest a job's teardown may take in total (close the log, report the result, stop the machine); runs on its own token, also on shutdown.");
    public static readonly Setting<TimeSpan> ShutdownTimeout = Setting.Duration("SHUTDOWN_TIMEOUT", TimeSpan.FromMinutes(10),
        "On SIGTERM/SIGINT, how long running jobs may take to finish before they are requeued.");
    public static readonly Setting<TimeSpan> StopWindowTime = Setting.Duration("STOP_WINDOW", TimeSpan.Zero,
        "How long whatever stops this worker waits after SIGTERM before it kills it (docker stop --time, a pod's grace period, "
        + "GCE's ~90 s). A drain then ends inside it: running jobs get part of it (at most SHUTDOWN_TIMEOUT), the rest is kept "
        + "to requeue the jobs still running and delete their machines. 0: unknown, a drain waits SHUTDOWN_TIMEOUT.",
        allowZero: true);
    public static readonly Setting<int> MaxRequeues = Setting.Int("MAX_REQUEUES", 3,
        "Requeues after infrastructure failures before a job is errored instead.", min: 0, max: 1000);
    public static readonly Setting<int> HostFailureThreshold = Setting.Int("HOST_FAILURE_THRESHOLD", 3,
        "Host-level failures in a row (engine unreachable, credentials refused, build root full) after which this host stops taking jobs until its backend answers a probe; /readyz answers 503 meanwhile.",
        min: 1, max: 1000);
    public static readonly Setting<TimeSpan> HostUnhealthyAfter = Setting.Duration("HOST_UNHEALTHY_AFTER", TimeSpan.FromMinutes(10),
        "How long a host may stay broken (no job has run since it stopped taking jobs) before /healthz answers 503, so autohealing replaces it.");
    public static readonly Setting<TimeSpan> HostProbeInterval = Setting.Duration("HOST_PROBE_INTERVAL", TimeSpan.FromSeconds(5),
        "Wait before the first probe of a broken host's backend (a Docker ping, a Compute API get); doubled after each failed probe.");
    public static readonly Setting<TimeSpan> HostProbeMaxInterval = Setting.Duration("HOST_PROBE_MAX_INTERVAL", TimeSpan.FromMinutes(1),
        "Longest wait between two probes of a broken host's backend.");
    public static readonly Setting<int> LogPartMaxSize = Setting.Int("LOG_PART_MAX_SIZE", 1653,
        "Largest log part in characters (travis default, under Pusher's 10 kB even when escaped).", min: 16);
    public static readonly Setting<TimeSpan> LogFlushInterval = Setting.Duration("LOG_FLUSH_INTERVAL", TimeSpan.FromMilliseconds(500),
        "How often buffered log output is sent as a part.");
    public static readonly Setting<TimeSpan> FilePollingInterval = Setting.Duration("FILE_POLLING_INTERVAL", TimeSpan.FromSeconds(2),
        "How often the file queue looks for new job files.");
    public static readonly Setting<string> Hostname = Setting.Text("HOSTNAME", Environment.MachineName,
        "This worker host's id, put on every machine's labels and in the worker info fold.");
    public static readonly Setting<string> FleetName = Setting.Text("FLEET", "default",
        "Name of this fleet, put on every machine it creates; cleanup only touches machines of its own fleet.");
    public static readonly Setting<Uri?> BuildApiUri = Setting.OptionalUri("BUILD_API_URI",
        "travis-build compatible script API; the URI's user info is sent as 'Authorization: token'. Empty: built-in generator.",
        secret: true, "http", "https");
    public static readonly Setting<string> LogFormat = Setting.OneOf("LOG_FORMAT", "text",
        "Worker log format on stderr.", "text", "json");
    public static readonly Setting<string> LogLevel = Setting.OneOf("LOG_LEVEL", "information",
        "Lowest worker log level.", "verbose", "debug", "information", "warning", "error");
    public static readonly Setting<string> DefaultLanguage = Setting.Text("DEFAULT_LANGUAGE", "default", "Start attribute when the job has no language.");
    public static readonly Setting<string> DefaultDist = Setting.Text("DEFAULT_DIST", "xenial", "Start attribute when the job has no dist.");
    public static readonly Setting<string> DefaultArch = Setting.Text("DEFAULT_ARCH", "amd64", "Start attribute when the job has no arch.");
    public static readonly Setting<string> DefaultGroup = Setting.Text("DEFAULT_GROUP", "stable", "Start attribute when the job has no group.");
    public static readonly Setting<string> DefaultOs = Setting.Text("DEFAULT_OS", "linux", "Start attribute when the job has no os.");

    public static readonly Setting<string?> TravisSite = Setting.OptionalText("TRAVIS_SITE",
        "travis-worker's site (e.g. org, com): the Travis-Site of every request to job-board (required with WORKER_QUEUE_TYPE=http), and on GCE a network tag of every job VM, as travis-worker put it, for the firewall rules and routes that match it.");

    public static IReadOnlyList<ISetting> All { get; } =
    [
        QueueName, BaseDir, PoolSize, HardTimeout, LogTimeout, MaxLogLength,
        StartupTimeout, ScriptUploadTimeout, TeardownTimeout, ShutdownTimeout, StopWindowTime, MaxRequeues,
        HostFailureThreshold, HostUnhealthyAfter, HostProbeInterval, HostProbeMaxInterval,
        LogPartMaxSize, LogFlushInterval, FilePollingInterval, Hostname, FleetName, BuildApiUri, LogFormat, LogLevel,
        DefaultLanguage, DefaultDist, DefaultArch, DefaultGroup, DefaultOs, TravisSite,
    ];

    public string JobQueueName { get; init; } = QueueName.Default;
    public string BaseDirectory { get; init; } = Path.GetFullPath(BaseDir.Default);
    public int ProcessorCount { get; init; } = PoolSize.Default;
    public TimeSpan HardLimit { get; init; } = HardTimeout.Default;
    public TimeSpan LogSilence { get; init; } = LogTimeout.Default;
    public long MaxLog { get; init; } = MaxLogLength.Default;
    public TimeSpan Startup { get; init; } = StartupTimeout.Default;
    public TimeSpan Upload { get; init; } = ScriptUploadTimeout.Default;
    public TimeSpan Teardown { get; init; } = TeardownTimeout.Default;
    public TimeSpan Shutdown { get; init; } = ShutdownTimeout.Default;
    public TimeSpan StopWindow { get; init; } = StopWindowTime.Default;
    public int Requeues { get; init; } = MaxRequeues.Default;
    public HostBreakerOptions Breaker { get; init; } = new();

    /// <summary>No other host could take a requeued job (<c>worker exec</c>): a host failure errors the job at once.</summary>
    public bool SingleHost { get; init; }
    public int PartSize { get; init; } = LogPartMaxSize.Default;
    public TimeSpan FlushInterval { get; init; } = LogFlushInterval.Default;
    public TimeSpan FilePolling { get; init; } = FilePollingInterval.Default;
    public string Host { get; init; } = Hostname.Default;
    public string Fleet { get; init; } = FleetName.Default;
    public Uri? BuildApi { get; init; }
    public string Format { get; init; } = LogFormat.Default;
    public string Level { get; init; } = LogLevel.Default;
    public StartDefaults Defaults { get; init; } = new();

    public static WorkerOptions Load(SettingsSource source)
    {
        var name = QueueName.Read(source);
        if (name.Any(c => c is '/' or '\\') || name.Trim().Length == 0)
        {
            throw new InvalidSettingException(source.Find(QueueName.Key)?.Variable ?? "WORKER_QUEUE_NAME", name, "a name without slashes");
        }
        return new WorkerOptions
        {
            JobQueueName = name,
            BaseDirectory = Path.GetFullPath(BaseDir.Read(source)),
            ProcessorCount = PoolSize.Read(source),
            HardLimit = HardTimeout.Read(source),
            LogSilence = LogTimeout.Read(source),
            MaxLog = MaxLogLength.Read(source),
            Startup = StartupTimeout.Read(source),
            Upload = ScriptUploadTimeout.Read(source),
            Teardown = TeardownTimeout.Read(source),
            Shutdown = ShutdownTimeout.Read(source),
            StopWindow = StopWindowTime.Read(source),
            Requeues = MaxRequeues.Read(source),
            Breaker = new HostBreakerOptions
            {
                Threshold = HostFailureThreshold.Read(source),
                UnhealthyAfter = HostUnhealthyAfter.Read(source),
                ProbeInterval = HostProbeInterval.Read(source),
                ProbeMaxInterval = HostProbeMaxInterval.Read(source),
            },
            PartSize = LogPartMaxSize.Read(source),
            FlushInterval = LogFlushInterval.Read(source),
            FilePolling = FilePollingInterval.Read(source),
            Host = Hostname.Read(source),
            Fleet = FleetName.Read(source),
            BuildApi = BuildApiUri.Read(source),
            Format = LogFormat.Read(source),
            Level = LogLevel.Read(source),
            Defaults = new StartDefaults(
                DefaultLanguage.Read(source), DefaultDist.Read(source), DefaultArch.Read(source),
                DefaultGroup.Read(source), DefaultOs.Read(source)),
        };
    }
}

/// <summary>Start attributes a job gets when its config names none (travis's DEFAULT_* keys).</summary>
public sealed record StartDefaults(
    string Language = "default", string Dist = "xenial", string Arch = "amd64", string Group = "stable", string Os = "linux");

/// <summary>When a host stops taking jobs, how its backend is probed, and when it counts as unhealthy (<c>WORKER_HOST_*</c>).</summary>
public sealed record HostBreakerOptions
{
    public int Threshold { get; init; } = WorkerOptions.HostFailureThreshold.Default;
    public TimeSpan UnhealthyAfter { get; init; } = WorkerOptions.HostUnhealthyAfter.Default;
    public TimeSpan ProbeInterval { get; init; } = WorkerOptions.HostProbeInterval.Default;
    public TimeSpan ProbeMaxInterval { get; init; } = WorkerOptions.HostProbeMaxInterval.Default;
}
