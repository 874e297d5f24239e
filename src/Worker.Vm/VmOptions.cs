using Worker.Core.Images;
using Worker.Ssh;

namespace Worker.Vm;

/// <summary>The values of one VM backend's settings (<see cref="VmSettings"/>) and the job policy that applies to it.</summary>
public sealed record VmOptions
{
    /// <summary><c>tart</c> or <c>vetu</c>.</summary>
    public required string Tool { get; init; }

    /// <summary>The settings' key prefix (<c>TART</c>, <c>VETU</c>), to name a setting in a message.</summary>
    public required string Prefix { get; init; }

    public required string CliPath { get; init; }
    public string CliPathVariable { get; init; } = "";
    public string SshUser { get; init; } = "admin";
    public string SshPassword { get; init; } = "admin";
    public int SshPort { get; init; } = 22;

    /// <summary>CPUs per VM unless the job asks; 0: the image's own.</summary>
    public int Cpus { get; init; }

    /// <summary>Memory in bytes per VM unless the job asks; 0: the image's own.</summary>
    public long Memory { get; init; }

    /// <summary>Disk in bytes per VM unless the job asks; 0: the image's own.</summary>
    public long Disk { get; init; }

    public int? CpuCeiling { get; init; }
    public long? MemoryCeiling { get; init; }
    public long? DiskCeiling { get; init; }
    public int StandbyCount { get; init; }
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromMinutes(3);
    public required string DefaultImage { get; init; }
    public ImagePullPolicy Pull { get; init; } = ImagePullPolicy.Missing;
    public IReadOnlyList<string> ImageGlobs { get; init; } = [];
    public IReadOnlyList<string> VolumeRules { get; init; } = [];

    /// <summary>Where the records of this backend's VMs live (<c>WORKER_BASE_DIR/vms/TOOL</c>).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>How the worker waits for a VM's sshd; the boot timeout bounds it.</summary>
    public SshConnectOptions Ssh { get; init; } = new();

    /// <summary>First pause after a standby VM failed to boot; doubled after each failure in a row, up to <see cref="StandbyRetryMax"/>.</summary>
    public TimeSpan StandbyRetry { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan StandbyRetryMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a pull of an image the host has (<c>_PULL=always</c>) may go without printing a word
    /// before it is killed and the job runs on the host's copy. Not a setting; tests shorten it.
    /// </summary>
    internal TimeSpan RefreshSilenceLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The ceiling on CPUs: the operator's, else the per-VM default when it is set.</summary>
    public int? EffectiveCpuCeiling => CpuCeiling ?? (Cpus > 0 ? Cpus : null);

    public long? EffectiveMemoryCeiling => MemoryCeiling ?? (Memory > 0 ? Memory : null);

    public long? EffectiveDiskCeiling => DiskCeiling ?? (Disk > 0 ? Disk : null);

    /// <summary>The variable of a setting of this backend: <c>Variable("MAX_CPU")</c> is <c>WORKER_TART_MAX_CPU</c>.</summary>
    public string Variable(string key) => $"WORKER_{Prefix}_{key}";
}
