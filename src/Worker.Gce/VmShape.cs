using Worker.Core.Backends;

namespace Worker.Gce;

/// <summary>What a job's VM is made of: its machine type, its GPUs (null: none) and its boot disk size.</summary>
public sealed record VmShape(string MachineType, GuestAccelerators? Gpus, int DiskSizeGb)
{
    /// <exception cref="Worker.Core.Jobs.JobRefusedException">The job asks for GPUs the operator does not allow.</exception>
    public static VmShape For(StartAttributes job, GceOptions options) => new(
        options.MachineTypeFor(job.VmSize, job.VmType),
        GuestAccelerators.For(job, options),
        GpuVmSizes.Includes(job.VmSize) ? Math.Max(options.DiskSizeGb, GpuVmSizes.DiskSizeGb) : options.DiskSizeGb);

    public string Description => Gpus is { } gpus ? $"{MachineType} with {gpus.Description}" : MachineType;

    /// <summary>
    /// Whether the VM has GPUs, attached or built into its machine type (the A2, A3 and G2 families):
    /// Compute Engine live-migrates neither, and refuses an insert that asks it to.
    /// </summary>
    public bool HasGpus => Gpus is not null || MachineType.Split('-')[0] is "a2" or "a3" or "g2";
}
