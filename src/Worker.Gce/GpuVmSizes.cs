namespace Worker.Gce;

/// <summary>
/// travis's GPU vm_sizes, made as travis-worker made them: an N1 machine (the family that takes
/// attached GPUs) with one GPU, and a boot disk big enough for the CUDA images job-board picks
/// for them (asked with <c>gpu_vm_type</c>).
/// </summary>
public static class GpuVmSizes
{
    public const string MachineType = "n1-standard-8";

    /// <summary>The boot disk of a GPU vm_size's VM, unless WORKER_GCE_DISK_SIZE is bigger.</summary>
    public const int DiskSizeGb = 300;

    /// <summary>How many GPUs a GPU vm_size gets.</summary>
    public const int GpuCount = 1;

    private static readonly Dictionary<string, string> GpuTypes = new(StringComparer.Ordinal)
    {
        ["gpu-medium"] = "nvidia-tesla-t4",
        ["gpu-xlarge"] = "nvidia-tesla-v100",
    };

    public static IEnumerable<string> Names => GpuTypes.Keys;

    public static bool Includes(string? vmSize) => vmSize is not null && GpuTypes.ContainsKey(vmSize);

    /// <summary>The accelerator type of a GPU vm_size's GPU; null for another vm_size.</summary>
    public static string? GpuTypeOf(string? vmSize) => vmSize is not null ? GpuTypes.GetValueOrDefault(vmSize) : null;
}
