using Worker.Core.Configuration;

namespace Worker.Telemetry;

/// <summary>
/// The worker's own telemetry settings: Honeycomb, trace sampling and the log file. The OTLP
/// exporter is configured by the standard <c>OTEL_*</c> variables (<see cref="OtlpTarget"/>), and
/// <c>/metrics</c> is served on <c>WORKER_HTTP_ADDR</c>.
/// </summary>
public sealed record TelemetryOptions
{
    public const string DefaultHoneycombEndpoint = "https://api.honeycomb.io";

    public static readonly Setting<string?> HoneycombApiKey = Setting.OptionalText("HONEYCOMB_API_KEY",
        "Honeycomb API key: traces, metrics and logs also go to Honeycomb over OTLP (header x-honeycomb-team). Empty: not sent to Honeycomb.",
        secret: true);
    public static readonly Setting<string> HoneycombDataset = Setting.Text("HONEYCOMB_DATASET", "worker",
        "Honeycomb dataset for metrics (header x-honeycomb-dataset; traces and logs go to the dataset named by the service name, OTEL_SERVICE_NAME, default worker).",
        "a name");
    public static readonly Setting<Uri?> HoneycombEndpoint = Setting.OptionalUri("HONEYCOMB_ENDPOINT",
        $"Honeycomb's OTLP/HTTP endpoint (EU: https://api.eu1.honeycomb.io). Empty: {DefaultHoneycombEndpoint}.", secret: false, "http", "https");
    public static readonly Setting<int> TraceSampleRate = Setting.Int("TRACE_SAMPLE_RATE", 1,
        "Keep the traces of 1 in N jobs (1: every job); a job that errored or was requeued is always kept.", min: 1, max: 1_000_000);
    public static readonly Setting<string?> LogFile = Setting.OptionalText("LOG_FILE",
        "Also write the worker's log to this file (text or JSON as WORKER_LOG_FORMAT), rotated at LOG_ROTATE_SIZE. Empty: stderr only.",
        "a file path");
    public static readonly Setting<long> LogRotateSize = Setting.Bytes("LOG_ROTATE_SIZE", 100L << 20,
        "Size at which the log file is rotated: the lines go on in NAME_001.EXT, NAME_002.EXT... (the highest number is the current file).", min: 1L << 10);
    public static readonly Setting<int> LogMaxRotations = Setting.Int("LOG_MAX_ROTATIONS", 10,
        "Rotated log files kept beside the current one; 0 keeps every one (as cirrus-cli's max-rotations).", min: 0, max: 100_000);

    public static IReadOnlyList<ISetting> All { get; } =
        [HoneycombApiKey, HoneycombDataset, HoneycombEndpoint, TraceSampleRate, LogFile, LogRotateSize, LogMaxRotations];

    public string? HoneycombKey { get; init; }
    public string Dataset { get; init; } = HoneycombDataset.Default;
    public Uri Honeycomb { get; init; } = new(DefaultHoneycombEndpoint);
    public int SampleRate { get; init; } = TraceSampleRate.Default;
    public string? LogPath { get; init; }
    public long RotateSize { get; init; } = LogRotateSize.Default;
    public int MaxRotations { get; init; } = LogMaxRotations.Default;

    public static TelemetryOptions Load(SettingsSource source) =>
        new()
        {
            HoneycombKey = HoneycombApiKey.Read(source),
            Dataset = HoneycombDataset.Read(source),
            Honeycomb = HoneycombEndpoint.Read(source) ?? new Uri(DefaultHoneycombEndpoint),
            SampleRate = TraceSampleRate.Read(source),
            LogPath = LogFile.Read(source),
            RotateSize = LogRotateSize.Read(source),
            MaxRotations = LogMaxRotations.Read(source),
        };
}
