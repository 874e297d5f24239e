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
}
