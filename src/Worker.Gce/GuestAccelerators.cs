using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Worker.Core.Backends;
using Worker.Core.Jobs;

namespace Worker.Gce;

/// <summary>
/// The GPUs a job VM gets, chosen as travis-worker chose them: those of the payload's
/// <c>vm_config</c> when it asks for some (a type it leaves out is WORKER_GCE_GPU_TYPE, a count
/// WORKER_GCE_GPU_COUNT), else the GPU of its GPU vm_size. Never more than WORKER_GCE_MAX_GPUS: a
/// payload must not put GPUs on the operator's bill that the operator did not allow.
/// </summary>
public sealed partial record GuestAccelerators(int Count, string Type)
{
    /// <summary>The job's GPUs, or null when it asks for none.</summary>
    /// <exception cref="JobRefusedException">More GPUs than the ceiling, or a type that is no Compute Engine name.</exception>
    public static GuestAccelerators? For(StartAttributes job, GceOptions options)
    {
        var chosen = FromVmConfig(job.Gpus, options)
            ?? (GpuVmSizes.GpuTypeOf(job.VmSize) is { } sizeType ? new GuestAccelerators(GpuVmSizes.GpuCount, sizeType) : null);
        if (chosen is null)
        {
            return null;
        }
        if (!IsTypeName(chosen.Type))
        {
            throw new JobRefusedException($"vm_config.gpu_type '{chosen.Type}' is not a Compute Engine accelerator type such as nvidia-tesla-t4");
        }
        if (options.GpuCeiling is { } ceiling && chosen.Count > ceiling)
        {
            throw new JobRefusedException($"the job asks for {chosen.Description}, more than WORKER_GCE_MAX_GPUS allows ({ceiling})");
        }
        return chosen;
    }

    /// <summary>Whether <paramref name="text"/> can name an accelerator type (a Compute Engine resource name).</summary>
    public static bool IsTypeName(string text) => ResourceName().IsMatch(text);

    public string Description => Count == 1 ? $"1 {Type} GPU" : $"{Count} {Type} GPUs";

    /// <summary>The instance's <c>guestAccelerators</c>: the type as the VM's zone offers it, relative to the project as its machine type is.</summary>
    public JsonArray InZone(string zone) =>
        new(new JsonObject { ["acceleratorType"] = $"zones/{zone}/acceleratorTypes/{Type}", ["acceleratorCount"] = Count });

    /// <summary>travis-worker took vm_config's GPUs when its count was above 0; here a count or type it leaves out is the operator's default.</summary>
    private static GuestAccelerators? FromVmConfig(GpuRequest? request, GceOptions options)
    {
        if (request is null)
        {
            return null;
        }
        var count = request.Count > 0 ? request.Count : options.DefaultGpuCount;
        return count > 0 ? new GuestAccelerators(count, request.Type ?? options.DefaultGpuType) : null;
    }

    [GeneratedRegex("^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex ResourceName();
}
