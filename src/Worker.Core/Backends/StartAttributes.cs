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

    /// <summary>travis-scheduler's <c>vm_type</c> (<c>premium</c>); null when the payload has none.</summary>
    public string? VmType { get; init; }
    public string? RepositorySlug { get; init; }
    public TimeSpan HardTimeout { get; init; } = TimeSpan.FromMinutes(50);

    /// <summary>CPUs the job asks for (<c>config.cpus</c>); backends check it against their ceiling.</summary>
    public double? Cpus { get; init; }

    /// <summary>Memory in bytes the job asks for (<c>config.memory</c>, e.g. <c>2g</c>).</summary>
    public long? Memory { get; init; }

    /// <summary>Disk size in bytes the job asks for (<c>config.disk</c>, e.g. <c>60g</c>); VM backends check it against their ceiling.</summary>
    public long? Disk { get; init; }

    /// <summary>GPUs the job asks for (the payload's <c>vm_config</c>); the backends that attach GPUs read it.</summary>
    public GpuRequest? Gpus { get; init; }

    /// <summary>
    /// The zone the job asks its VM to be in (the payload's <c>vm_config.zone</c>): gce puts the VM there
    /// and nowhere else; the other backends ignore it, as travis-worker's did.
    /// </summary>
    public string? RequestedZone { get; init; }

    /// <summary>
    /// Arguments a caller (the Cirrus bridge's resource modifiers) appends to the VM's run command,
    /// with the lease that guards what they hand out (e.g. a GPU); never from a job's payload.
    /// </summary>
    public RunArguments? AppendRun { get; init; }

    /// <summary>What a caller asks of a VM beyond image and sizes (account, networking); VM backends read it, others refuse it.</summary>
    public VmRequest? Vm { get; init; }

    /// <summary>Volumes the job asks for (<c>config.volumes</c>, <c>src:dst[:ro]</c>).</summary>
    public IReadOnlyList<string> Volumes { get; init; } = [];

    /// <summary>Whether the job asks for a privileged machine (<c>config.privileged</c>).</summary>
    public bool Privileged { get; init; }

    /// <summary>
    /// The script runs with this worker's environment (less its own <c>WORKER_*</c> settings) instead
    /// of a clean one, where the backend runs scripts on this host (local): a Cirrus task with isolation
    /// none gets the environment its agent has under cirrus-cli. Never from a job's payload.
    /// </summary>
    public bool InheritEnvironment { get; init; }

    /// <summary>
    /// Where the backend runs scripts on this host (local), a cancelled script is first interrupted
    /// (SIGINT) and killed only this long after, as cirrus-cli stops its agent; zero: killed at once.
    /// Never from a job's payload.
    /// </summary>
    public TimeSpan InterruptGrace { get; init; }

    /// <summary>Labels for the machine: fleet, job id, worker host, creation time and deadline.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>What the payload asks for; the pipeline adds the hard timeout and the labels.</summary>
    public static StartAttributes From(JobPayload payload, StartDefaults defaults)
    {
        var config = payload.Config;
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
            VmType = payload.VmType,
            RepositorySlug = payload.RepositorySlug,
            Cpus = payload.Cpus,
            Memory = payload.Memory,
            Disk = payload.Disk,
            Gpus = payload.Gpus,
            RequestedZone = payload.RequestedZone,
            Volumes = payload.Volumes,
            Privileged = config["privileged"] is JsonValue p && p.TryGetValue<bool>(out var priv) && priv,
        };
    }
}
