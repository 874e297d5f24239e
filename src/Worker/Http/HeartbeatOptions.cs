using Worker.Core.Configuration;

namespace Worker.Http;

/// <summary>
/// travis-worker's heartbeat (<c>HEARTBEAT_URL</c>): a URL the worker asks now and then whether
/// it should keep running; <c>{"state": "down"}</c> drains it and it exits 0, so an operator can
/// take a fleet down from one place.
/// </summary>
public sealed record HeartbeatOptions
{
    public static readonly Setting<Uri?> Url = Setting.OptionalUri("HEARTBEAT_URL",
        "Asked with GET every WORKER_HEARTBEAT_INTERVAL (as travis-worker's): an answer {\"state\": \"down\"} drains the worker, which then exits 0; "
        + "any other answer, or none, changes nothing. Empty: no heartbeat.",
        secret: false, "http", "https");
    public static readonly Setting<string?> AuthToken = Setting.OptionalText("HEARTBEAT_URL_AUTH_TOKEN",
        "Sent with each heartbeat as Authorization: token TOKEN.", secret: true);
    public static readonly Setting<TimeSpan> Interval = Setting.Duration("HEARTBEAT_INTERVAL", TimeSpan.FromMinutes(5),
        "How often the heartbeat URL is asked (travis-worker: every 5 minutes), the first time at start.");

    public static IReadOnlyList<ISetting> All { get; } = [Url, AuthToken, Interval];

    public Uri? Endpoint { get; init; }
    public string? Token { get; init; }
    public TimeSpan Every { get; init; } = Interval.Default;

    public static HeartbeatOptions Load(SettingsSource source) =>
        new() { Endpoint = Url.Read(source), Token = AuthToken.Read(source), Every = Interval.Read(source) };
}
