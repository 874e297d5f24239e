using Worker.Core.Configuration;

namespace Worker.Cirrus.Agent;

/// <summary>Settings of the Cirrus bridge, <c>WORKER_CIRRUS_*</c>. The worker file itself is cirrus-cli's YAML.</summary>
public sealed record CirrusOptions
{
    public const string DefaultAgentUrl = "https://github.com/cirruslabs/cirrus-cli/releases/download/v{version}/cirrus-{os}-{arch}{ext}";

    public static readonly Setting<string> AgentUrl = new("CIRRUS_AGENT_URL", DefaultAgentUrl,
        "Where the Cirrus agent is downloaded from when <user cache dir>/cirrus/agent lacks the version a task needs; {version}, {os}, {arch} and {ext} are filled in (Go names: linux, darwin; amd64, arm64; {ext} is .exe for windows). A pre-seeded cache needs no network.",
        "an http(s) URL template containing {version}",
        text => (text.Contains("{version}", StringComparison.Ordinal) &&
                 Uri.TryCreate(text.Replace("{version}", "0", StringComparison.Ordinal).Replace("{os}", "linux", StringComparison.Ordinal).Replace("{arch}", "amd64", StringComparison.Ordinal), UriKind.Absolute, out var uri) &&
                 (uri.Scheme == "http" || uri.Scheme == "https"), text),
        text => text);

    private static readonly string[] IsolationBackends = ["local", "docker", "tart", "vetu"];

    public static readonly Setting<IReadOnlyList<string>> FleetBackends = new("CIRRUS_FLEET_BACKENDS", Array.Empty<string>(),
        "Fleet mode, on a `worker run` host: the backends it runs Cirrus tasks from the job queue on (local for isolation none, docker for container, tart, vetu). Empty: it runs none; each such task errors, naming this setting. A task on the local backend runs on the host itself, so allow it only on hosts meant for that.",
        "a comma-separated list of local, docker, tart, vetu",
        text =>
        {
            var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return names.All(IsolationBackends.Contains) ? (true, names) : (false, Array.Empty<string>());
        },
        names => string.Join(",", names));

    public static IReadOnlyList<ISetting> All { get; } = [AgentUrl, FleetBackends];

    public string AgentUrlTemplate { get; init; } = DefaultAgentUrl;

    /// <summary>See <see cref="FleetBackends"/>.</summary>
    public IReadOnlyList<string> FleetBackendNames { get; init; } = [];

    public static CirrusOptions From(SettingsSource source) => new()
    {
        AgentUrlTemplate = AgentUrl.Read(source),
        FleetBackendNames = FleetBackends.Read(source),
    };
}
