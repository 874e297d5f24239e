using Worker.Core.Backends;

namespace Worker.Vm;

/// <summary>What one VM is made of: the image it is cloned from and what is set and passed to run.</summary>
public sealed record VmSpec
{
    public required string Image { get; init; }

    /// <summary>CPUs (<c>set --cpu</c>); 0: the image's own.</summary>
    public int Cpus { get; init; }

    /// <summary>Memory in MiB (<c>set --memory</c>); 0: the image's own.</summary>
    public long MemoryMib { get; init; }

    /// <summary>Disk in GB (<c>set --disk-size</c>); 0: the image's own.</summary>
    public int DiskGb { get; init; }

    /// <summary>Which of CPUs, memory and disk the job asked for (not the operator's defaults): a set that fails for them is the job's fault.</summary>
    public bool CpusAsked { get; init; }
    public bool MemoryAsked { get; init; }
    public bool DiskAsked { get; init; }

    public IReadOnlyList<VmVolume> Volumes { get; init; } = [];

    /// <summary>Arguments appended to run under a held lease (see <see cref="RunArgumentLeases"/>).</summary>
    public RunArguments? AppendRun { get; init; }

    /// <summary>What the caller asked beyond image and sizes (account, softnet, networking); null: the backend's settings.</summary>
    public VmRequest? Request { get; init; }

    /// <summary>Whether a standby VM made to <paramref name="standby"/> is exactly what this job needs.</summary>
    public bool IsStandbyShaped(VmSpec standby) =>
        Image == standby.Image && Cpus == standby.Cpus && MemoryMib == standby.MemoryMib && DiskGb == standby.DiskGb &&
        Volumes.Count == 0 && AppendRun is null && standby.Volumes.Count == 0 && standby.AppendRun is null && VmRequest.Same(Request, standby.Request);
}
