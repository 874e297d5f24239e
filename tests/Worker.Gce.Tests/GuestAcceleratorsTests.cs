using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Gce.Tests;

/// <summary>Which GPUs a job's VM gets: its vm_config's, the operator's defaults for what it leaves out, else its GPU vm_size's.</summary>
public sealed class GuestAcceleratorsTests
{
    private static readonly GceOptions Allowing8 = GceOptions.Load(SettingsSource.From(("WORKER_GCE_MAX_GPUS", "8")));

    private static GuestAccelerators? For(GpuRequest? gpus, string? vmSize = null, GceOptions? options = null) =>
        GuestAccelerators.For(new StartAttributes { JobId = 1, Gpus = gpus, VmSize = vmSize }, options ?? Allowing8);

    [Fact]
    public void A_vm_config_asking_for_GPUs_wins_over_the_vm_size()
    {
        Assert.Equal(new GuestAccelerators(4, "nvidia-l4"), For(new GpuRequest(4, "nvidia-l4"), "gpu-medium"));
        Assert.Equal(new GuestAccelerators(1, "nvidia-tesla-t4"), For(null, "gpu-medium"));
        Assert.Null(For(null, "large"));
        Assert.Null(For(null));
    }

    [Fact]
    public void What_a_vm_config_leaves_out_is_the_operators_GPU_type_or_count()
    {
        var options = GceOptions.Load(SettingsSource.From(("WORKER_GCE_MAX_GPUS", "8"), ("WORKER_GCE_GPU_TYPE", "nvidia-l4"), ("WORKER_GCE_GPU_COUNT", "2")));

        Assert.Equal(new GuestAccelerators(3, "nvidia-l4"), For(new GpuRequest(3, null), options: options));
        Assert.Equal(new GuestAccelerators(2, "nvidia-tesla-v100"), For(new GpuRequest(0, "nvidia-tesla-v100"), options: options));
        Assert.Equal(new GuestAccelerators(1, "nvidia-tesla-t4"), For(new GpuRequest(1, null))); // WORKER_GCE_GPU_TYPE's default
        // As under travis-worker, a type without a count asks for nothing unless WORKER_GCE_GPU_COUNT says how many; the vm_size still counts.
        Assert.Null(For(new GpuRequest(0, "nvidia-tesla-v100")));
        Assert.Equal(new GuestAccelerators(1, "nvidia-tesla-v100"), For(new GpuRequest(0, "nvidia-tesla-t4"), "gpu-xlarge"));
    }

    [Fact]
    public void GPUs_past_the_ceiling_are_refused_naming_the_setting_and_travis_workers_form_has_no_ceiling()
    {
        var refused = Assert.Throws<JobRefusedException>(() => For(new GpuRequest(9, "nvidia-tesla-v100")));
        Assert.Equal("the job asks for 9 nvidia-tesla-v100 GPUs, more than WORKER_GCE_MAX_GPUS allows (8)", refused.Rule);
        Assert.Throws<JobRefusedException>(() => For(null, "gpu-medium", GceOptions.Load(SettingsSource.From())));

        var travisForm = GceOptions.Load(SettingsSource.From(("TRAVIS_WORKER_GCE_ZONE", "us-central1-b")));
        Assert.Null(travisForm.GpuCeiling);
        Assert.Equal(new GuestAccelerators(16, "nvidia-tesla-v100"), For(new GpuRequest(16, "nvidia-tesla-v100"), options: travisForm));
        Assert.Equal(1, GceOptions.Load(SettingsSource.From(("POOL_SIZE", "2"), ("GCE_MAX_GPUS", "1"))).GpuCeiling); // travis-worker's naming, set
    }
}
