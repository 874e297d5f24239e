using System.Globalization;
using System.Text.Json.Nodes;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Backends;

/// <summary>What a job asks of its machine, and the labels every machine it gets must carry.</summary>
public sealed record StartAttributes
{
    public required long JobId { get; init; }
    public string? Image { get; init; }
    public string Language { get; init; } = "default";
    public string Dist { get; init; } = "xenial";
    public string Arch { get; init; } = "amd64";
    public string Group { get; init; } = "stable";
    public string Os { get; init; } = "linux";
    public string? VmSize { get; init; }
    public string? RepositorySlug { get; init; }
    public TimeSpan HardTimeout { get; init; } = TimeSpan.FromMinutes(50);

    /// <summary>CPUs the job asks for (<c>config.cpus</c>); backends check it against their ceiling.</summary>
    public double? Cpus { get; init; }

    /// <summary>Memory in bytes the job asks for (<c>config.memory</c>, e.g. <c>2g</c>).</summary>
    public long? Memory { get; init; }

    /// <summary>Volumes the job asks for (<c>config.volumes</c>, <c>src:dst[:ro]</c>).</summary>
    public IReadOnlyList<string> Volumes { get; init; } = [];

    /// <summary>Whether the job asks for a privileged machine (<c>config.privileged</c>).</summary>
    public bool Privileged { get; init; }

    /// <summary>Labels for the machine: fleet, job id, worker host, creation time and deadline.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public static StartAttributes From(JobPayload payload, StartDefaults defaults, TimeSpan hardTimeout, MachineLabels labels)
    {
        var config = payload.Config;
        var volumes = new List<string>();
        if (config["volumes"] is JsonArray array)
        {
            volumes.AddRange(array.Select(v => JobPayload.Str(v) ?? "").Where(v => v.Length > 0));
        }
        else if (JobPayload.Str(config["volumes"]) is { Length: > 0 } single)
        {
            throw new InvalidJobPayloadException($"config.volumes must be a list, got '{single}'");
        }
        double? cpus = null;
        if (config["cpus"] is JsonNode c)
        {
            cpus = double.TryParse(JobPayload.Str(c), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw new InvalidJobPayloadException($"config.cpus must be a positive number, got {c.ToJsonString()}");
        }
        long? memory = null;
        if (config["memory"] is JsonNode m)
        {
            memory = ByteSizes.TryParse(JobPayload.Str(m) ?? "", out var bytes) && bytes > 0
                ? bytes
                : throw new InvalidJobPayloadException($"config.memory must be a size such as 2g or 512m, got {m.ToJsonString()}");
        }
        return new StartAttributes
        {
            JobId = payload.JobId,
            Image = payload.Image,
            Language = JobPayload.Str(config["language"]) ?? defaults.Language,
            Dist = JobPayload.Str(config["dist"]) ?? defaults.Dist,
            Arch = JobPayload.Str(config["arch"]) ?? defaults.Arch,
            Group = JobPayload.Str(config["group"]) ?? defaults.Group,
            Os = JobPayload.Str(config["os"]) ?? defaults.Os,
            VmSize = payload.VmSize,
            RepositorySlug = payload.RepositorySlug,
            HardTimeout = hardTimeout,
            Cpus = cpus,
            Memory = memory,
            Volumes = volumes,
            Privileged = config["privileged"] is JsonValue p && p.TryGetValue<bool>(out var priv) && priv,
            Labels = labels.For(payload.JobId, hardTimeout),
        };
    }
}
