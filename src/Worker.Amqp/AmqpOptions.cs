using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Worker.Core.Configuration;

namespace Worker.Amqp;

/// <summary>Settings of the AMQP transport (<c>WORKER_AMQP_*</c>, <c>WORKER_LOGS_AMQP_URI</c>, <c>WORKER_REQUEUE_STRATEGY</c>).</summary>
public sealed record AmqpOptions
{
    public const string Republish = "republish";
    public const string Hub = "hub";

    public static readonly Setting<Uri> AmqpUri = new("AMQP_URI", new Uri("amqp://guest:guest@localhost:5672/"),
        "RabbitMQ URI of the job queue, states and cancel commands (amqps:// for TLS).",
        "an absolute URI with scheme amqp or amqps, e.g. amqp://user:pass@host:5672/vhost",
        ParseAmqpUri, u => u.OriginalString, secret: true);
    public static readonly Setting<Uri?> LogsAmqpUri = new("LOGS_AMQP_URI", null,
        "Optional second RabbitMQ URI for log parts only; empty: logs go over AMQP_URI.",
        "an absolute URI with scheme amqp or amqps",
        text => ParseAmqpUri(text) is (true, var u) ? (true, u) : (false, null), u => u?.OriginalString ?? "", secret: true);
    public static readonly Setting<string?> TlsCaPath = new("AMQP_TLS_CA_PATH", null,
        "PEM file of the CA that signed the broker's certificate (amqps:// only); empty: the system's trust store.",
        "the path of a readable PEM file",
        text => File.Exists(text) ? (true, text) : (false, null), v => v ?? "");
    public static readonly Setting<string?> TravisTlsCertPath = new("AMQP_TLS_CERT_PATH", null,
        "travis-worker's name for WORKER_AMQP_TLS_CA_PATH (that one wins when both are set).",
        "the path of a readable PEM file",
        text => File.Exists(text) ? (true, text) : (false, null), v => v ?? "");
    public static readonly Setting<string?> TravisTlsCert = new("AMQP_TLS_CERT", null,
        "travis-worker's inline CA: PEM text of the certificates that signed the broker's (amqps:// only), trusted as WORKER_AMQP_TLS_CA_PATH's is, and beside it.",
        PemHelp, ParsePem, v => v ?? "");
    public static readonly Setting<bool> Insecure = Setting.Bool("AMQP_INSECURE", false,
        "travis-worker's AMQP_INSECURE: the broker's certificate is not checked at all when no CA is given (amqps:// only). Anyone on the path can then "
        + "read and change jobs; start-up warns. Give the broker's CA instead.");
    public static readonly Setting<string?> LogsTlsCert = new("LOGS_AMQP_TLS_CERT", null,
        "travis-worker's inline CA of the logs broker (WORKER_LOGS_AMQP_URI): PEM text. Empty, with LOGS_AMQP_TLS_CERT_PATH empty too: the logs broker is "
        + "trusted as the job broker is.",
        PemHelp, ParsePem, v => v ?? "");
    public static readonly Setting<string?> LogsTlsCertPath = new("LOGS_AMQP_TLS_CERT_PATH", null,
        "PEM file of the CA that signed the logs broker's certificate (travis-worker's LOGS_AMQP_TLS_CERT_PATH).",
        "the path of a readable PEM file",
        text => File.Exists(text) ? (true, text) : (false, null), v => v ?? "");
    public static readonly Setting<TimeSpan> Heartbeat = Setting.Duration("AMQP_HEARTBEAT", TimeSpan.FromSeconds(10),
        "AMQP heartbeat; a broker silent for about twice this long counts as gone.");
    public static readonly Setting<int> ConsumerPriority = Setting.Int("AMQP_CONSUMER_PRIORITY", 0,
        "x-priority of this worker's consumers; RabbitMQ prefers higher ones while they have room.");
    public static readonly Setting<string> QueueKind = Setting.OneOf("AMQP_QUEUE_TYPE", "classic",
        "Type of the job queue and its dead-letter queue when this worker declares them (quorum for a cluster).",
        "classic", "quorum");
    public static readonly Setting<string> RequeueStrategy = Setting.OneOf("REQUEUE_STRATEGY", Republish,
        "republish: put the payload back on the job queue with its requeue count; hub: send travis's reset state and let travis-hub requeue.",
        Republish, Hub);
    public static readonly Setting<long> OutboxSize = Setting.Bytes("AMQP_OUTBOX_SIZE", 16L << 20,
        "Most bytes of log parts and states held per connection while the broker confirms them or is away; writers wait beyond it.",
        min: 64 << 10);

    public static readonly Setting<TimeSpan> ConsumerTimeout = Setting.Duration("AMQP_CONSUMER_TIMEOUT", TimeSpan.FromMinutes(30),
        "The broker's consumer_timeout: how long RabbitMQ lets a delivery stay unacked before it closes the channel and hands the job to another worker (its default since 3.8.15: 30m; 0: none). "
        + "A job holds its delivery from receipt to result; on RabbitMQ 3.12+ each consumer asks for that long (x-consumer-timeout), on an older broker start-up warns when this is shorter.",
        allowZero: true);

    public static readonly Setting<bool> RabbitMqSharding = Setting.Bool("RABBITMQ_SHARDING", false,
        "Send log parts to the exchange reporting.jobs.logs_sharded (type x-modulus-hash, routing key the job id) instead of reporting/reporting.jobs.logs, "
        + "for a travis-logs that reads the shards; that broker (LOGS_AMQP_URI's when set) needs the rabbitmq_sharding plugin, else start-up stops.");

    public static readonly Setting<string> Infrastructure = Setting.Text("INFRA", "",
        "Name of this worker's infrastructure (travis-worker's INFRA, e.g. gce or ec2), sent to travis-logs as meta.infra on each job's first log part after it started; "
        + "travis-logs names its time-to-first-log-line metrics by it. Empty: sent empty, as travis-worker does.");

    public static IReadOnlyList<ISetting> All { get; } =
        [AmqpUri, TlsCaPath, TravisTlsCertPath, TravisTlsCert, Insecure, LogsAmqpUri, LogsTlsCert, LogsTlsCertPath, Heartbeat, ConsumerPriority, QueueKind, RequeueStrategy, OutboxSize, ConsumerTimeout, RabbitMqSharding,
            Infrastructure];

    public Uri Uri { get; init; } = AmqpUri.Default;
    public Uri? LogsUri { get; init; }
    public string? CaPath { get; init; }

    /// <summary>CAs of the broker given inline (travis-worker's <c>AMQP_TLS_CERT</c>), PEM; trusted beside <see cref="CaPath"/>'s.</summary>
    public string? CaPem { get; init; }

    /// <summary>The broker's certificate is not checked when no CA is given (travis-worker's <c>AMQP_INSECURE</c>).</summary>
    public bool InsecureTls { get; init; }

    /// <summary>The logs broker's CA file; with <see cref="LogsCaPem"/> null too, the logs broker is trusted as the job broker is.</summary>
    public string? LogsCaPath { get; init; }

    /// <summary>The logs broker's CAs given inline, PEM.</summary>
    public string? LogsCaPem { get; init; }
    public TimeSpan HeartbeatInterval { get; init; } = Heartbeat.Default;
    public int Priority { get; init; }
    public string QueueType { get; init; } = QueueKind.Default;
    public string Requeue { get; init; } = RequeueStrategy.Default;
    public long Outbox { get; init; } = OutboxSize.Default;

    /// <summary>Log parts go to <see cref="AmqpNames.ShardedLogExchange"/>, routed by job id (travis-worker's <c>RABBITMQ_SHARDING</c>).</summary>
    public bool ShardedLogs { get; init; } = RabbitMqSharding.Default;

    /// <summary>The variable that turned <see cref="ShardedLogs"/> on and its text, for the line that says the broker can't have it.</summary>
    public (string Variable, string Value) ShardedLogsSetBy { get; init; } = (SettingsSource.Prefix + RabbitMqSharding.Key, "true");

    /// <summary>travis-worker's <c>INFRA</c>, in the meta of each job's first log part after it started.</summary>
    public string Infra { get; init; } = Infrastructure.Default;

    /// <summary>The broker's own consumer timeout (<c>consumer_timeout</c>); zero: it has none.</summary>
    public TimeSpan BrokerConsumerTimeout { get; init; } = ConsumerTimeout.Default;

    /// <summary>The worker's hard limit, for jobs that set none of their own.</summary>
    public TimeSpan HardLimit { get; init; } = WorkerOptions.HardTimeout.Default;

    /// <summary>What a job holds its delivery for besides its script: its start, upload and teardown, and a minute for its script and reports.</summary>
    public TimeSpan HoldBesidesScript { get; init; } =
        WorkerOptions.StartupTimeout.Default + WorkerOptions.ScriptUploadTimeout.Default + WorkerOptions.TeardownTimeout.Default + TimeSpan.FromMinutes(1);

    /// <summary>The longest a job with this hard limit (null: the worker's) may hold its delivery unacked.</summary>
    public TimeSpan LongestHold(TimeSpan? jobHardLimit = null) => (jobHardLimit ?? HardLimit) + HoldBesidesScript;

    /// <summary>How long a delivered job may wait for its processor before it goes back to the queue for another worker.</summary>
    public TimeSpan HandBackAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long closing the queue waits for the broker to confirm what was handed in (the worker's WORKER_TEARDOWN_TIMEOUT).</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a lost connection is retried before each new attempt.</summary>
    public TimeSpan RecoveryInterval { get; init; } = TimeSpan.FromSeconds(1);

    public static AmqpOptions Load(SettingsSource source) => new()
    {
        Uri = AmqpUri.Read(source),
        LogsUri = LogsAmqpUri.Read(source),
        CaPath = TlsCaPath.Read(source) ?? TravisTlsCertPath.Read(source),
        CaPem = TravisTlsCert.Read(source),
        InsecureTls = Insecure.Read(source),
        LogsCaPath = LogsTlsCertPath.Read(source),
        LogsCaPem = LogsTlsCert.Read(source),
        HeartbeatInterval = Heartbeat.Read(source),
        Priority = ConsumerPriority.Read(source),
        QueueType = QueueKind.Read(source),
        Requeue = RequeueStrategy.Read(source),
        Outbox = OutboxSize.Read(source),
        BrokerConsumerTimeout = ConsumerTimeout.Read(source),
        ShardedLogs = RabbitMqSharding.Read(source),
        ShardedLogsSetBy = source.Find(RabbitMqSharding.Key) ?? (SettingsSource.Prefix + RabbitMqSharding.Key, "true"),
        Infra = Infrastructure.Read(source),
        HardLimit = WorkerOptions.HardTimeout.Read(source),
        HoldBesidesScript = WorkerOptions.StartupTimeout.Read(source) + WorkerOptions.ScriptUploadTimeout.Read(source)
            + WorkerOptions.TeardownTimeout.Read(source) + TimeSpan.FromMinutes(1),
    };

    private const string PemHelp = "PEM text of one or more certificates (-----BEGIN CERTIFICATE----- ...; a literal \\n stands for a line break)";

    /// <summary>PEM text with at least one certificate; an env file's one-line form (<c>\n</c> for each line break) is taken too.</summary>
    private static (bool, string?) ParsePem(string text)
    {
        var pem = text.Replace("\\n", "\n", StringComparison.Ordinal);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException)
        {
            return (false, null);
        }
        return certificates.Count > 0 ? (true, pem) : (false, null);
    }

    private static (bool, Uri) ParseAmqpUri(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "amqp" or "amqps" && uri.Host.Length > 0
            ? (true, uri)
            : (false, null!);
}
