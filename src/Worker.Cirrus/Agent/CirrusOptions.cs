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

    public static IReadOnlyList<ISetting> All { get; } = [AgentUrl];

    public string AgentUrlTemplate { get; init; } = DefaultAgentUrl;

    public static CirrusOptions From(SettingsSource source) => new() { AgentUrlTemplate = AgentUrl.Read(source) };
}
