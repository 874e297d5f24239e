using Worker.Core.Pipeline;

namespace Worker.Cirrus.Config;

/// <summary>
/// The labels the worker reports in <c>WorkerInfo</c>: the reserved <c>name</c>, <c>version</c>,
/// <c>hostname</c>, <c>os</c> and <c>arch</c>, then the configured labels over them (as in
/// cirrus-cli, a configured label of the same name wins; start-up warns about it).
/// </summary>
public static class WorkerLabels
{
    public static IReadOnlyList<string> Reserved { get; } = ["name", "version", "hostname", "os", "arch"];

    public static Dictionary<string, string> For(CirrusWorkerConfig config, string? hostName = null)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = config.Name,
            ["version"] = WorkerVersion.Text,
            ["hostname"] = hostName ?? HostPlatform.HostName,
            ["os"] = HostPlatform.Os,
            ["arch"] = HostPlatform.Arch,
        };
        foreach (var (key, value) in config.Labels)
        {
            labels[key] = value;
        }
        return labels;
    }
}
