using Worker.Core.Configuration;

namespace Worker.Gce.Tests;

/// <summary>WORKER_GCE_* settings: travis names, defaults, and one line naming a bad variable.</summary>
public sealed class GceOptionsTests
{
    [Fact]
    public void Defaults_follow_travis_worker()
    {
        var options = GceOptions.Load(SettingsSource.From());

        Assert.Equal("us-central1-a", options.PrimaryZone);
        Assert.Equal("us-central1", options.RegionName);
        Assert.Equal("n1-standard-2", options.MachineTypeFor(null));
        Assert.Equal("n2-standard-4", options.MachineTypeFor("large"));
        Assert.Equal("n1-standard-2", options.MachineTypeFor("gigantic"));
        Assert.Equal("n1-standard-8", options.MachineTypeFor("gpu-medium"));
        Assert.Equal("n1-standard-8", options.MachineTypeFor("gpu-xlarge"));
        Assert.Equal(0, options.GpuCeiling); // GPUs only when the operator allows them
        Assert.Equal(120, options.UploadAttempts);
        Assert.Equal(TimeSpan.FromSeconds(15), options.PrePollSleep);
        Assert.Equal(GceOptions.DefaultEndpoint, options.Endpoint);
    }

    [Fact]
    public void Travis_prefixed_keys_and_a_vm_size_map_are_read()
    {
        var options = GceOptions.Load(SettingsSource.From(
            ("TRAVIS_WORKER_GCE_ZONE", "europe-west1-d"),
            ("WORKER_GCE_VM_SIZE_MACHINE_TYPES", "small=e2-small, huge=n2-standard-32")));

        Assert.Equal("europe-west1", options.RegionName);
        Assert.Equal("e2-small", options.MachineTypeFor("small"));
        Assert.Equal("n2-standard-32", options.MachineTypeFor("huge"));
    }

    [Fact]
    public void An_operators_vm_size_map_wins_and_one_without_the_GPU_sizes_keeps_an_N1_machine_for_their_GPU()
    {
        var options = GceOptions.Load(SettingsSource.From(("WORKER_GCE_VM_SIZE_MACHINE_TYPES", "large=e2-standard-4,gpu-xlarge=n1-highmem-8"),
            ("WORKER_GCE_MACHINE_TYPE", "e2-standard-2")));

        Assert.Equal("n1-highmem-8", options.MachineTypeFor("gpu-xlarge"));
        Assert.Equal("n1-standard-8", options.MachineTypeFor("gpu-medium"));
        Assert.Equal("e2-standard-2", options.MachineTypeFor("medium")); // the operator's map replaces the default one
    }

    [Fact]
    public void Job_vms_are_named_worker_job_and_in_travis_workers_form_travis_job_as_its_gcloud_cleanup_expects()
    {
        Assert.Matches("^worker-job-4242-[0-9a-f]{8}$", GceOptions.Load(SettingsSource.From()).InstanceNameFor(4242));
        Assert.Matches("^travis-job-4242-[0-9a-f]{8}$", GceOptions.Load(SettingsSource.From(("TRAVIS_WORKER_GCE_ZONE", "us-east1-c"))).InstanceNameFor(4242));
        Assert.Matches("^ci-vm-4242-[0-9a-f]{8}$",
            GceOptions.Load(SettingsSource.From(("POOL_SIZE", "4"), ("WORKER_GCE_INSTANCE_NAME_PREFIX", "ci-vm"))).InstanceNameFor(4242));
        Assert.True(GceOptions.Load(SettingsSource.From()).InstanceNameFor(long.MaxValue).Length <= 63 - 20); // room for a 30-character prefix
    }

    [Theory]
    [InlineData("WORKER_GCE_INSTANCE_NAME_PREFIX", "Travis_Job")]
    [InlineData("WORKER_GCE_INSTANCE_NAME_PREFIX", "9-lives")]
    [InlineData("WORKER_GCE_INSTANCE_NAME_PREFIX", "a-prefix-far-too-long-for-a-vm-name")]
    [InlineData("WORKER_GCE_VM_SIZE_MACHINE_TYPES", "large")]
    [InlineData("WORKER_GCE_RATE_LIMIT", "fast")]
    [InlineData("WORKER_GCE_IMAGE_DEFAULT", "travis-ci-(")]
    [InlineData("TRAVIS_WORKER_GCE_BOOT_POLL_SLEEP", "soon")]
    [InlineData("WORKER_GCE_ZONE", ",")]
    [InlineData("TRAVIS_WORKER_GCE_IMAGE_SELECTOR_TYPE", "tag")] // Docker's, not GCE's
    [InlineData("GCE_IMAGE_SELECTOR_URL", "job-board.example/images/search")]
    [InlineData("WORKER_GCE_MAX_GPUS", "-1")]
    [InlineData("WORKER_GCE_GPU_COUNT", "one")]
    [InlineData("TRAVIS_WORKER_GCE_GPU_TYPE", "NVIDIA Tesla T4")]
    [InlineData("TRAVIS_WORKER_GCE_GPU_TYPE", "https://example.com/nvidia-l4")]
    public void A_bad_value_names_its_variable(string variable, string value)
    {
        var error = Assert.Throws<InvalidSettingException>(() => GceOptions.Load(SettingsSource.From((variable, value))));

        Assert.Equal(variable, error.Variable);
    }

    [Theory]
    [InlineData("WORKER_GCE_SPOT", "WORKER_GCE_PREEMPTIBLE")]
    [InlineData("WORKER_GCE_SPOT", "GCE_PREEMPTIBLE")] // a travis-worker deployment's, named as it names it
    [InlineData("TRAVIS_WORKER_GCE_SPOT", "TRAVIS_WORKER_GCE_PREEMPTIBLE")]
    public void Spot_and_preemptible_job_VMs_together_stop_start_up_naming_both_settings(string spot, string preemptible)
    {
        var error = Assert.Throws<InvalidSettingException>(() => GceOptions.Load(SettingsSource.From((spot, "true"), (preemptible, "true"))));

        Assert.Equal(spot, error.Variable);
        Assert.Equal($"{spot}=true is not valid: false when {preemptible}=true: job VMs are Spot or preemptible (Spot's legacy form, stopped after 24 hours), not both",
            error.Message);
    }

    [Theory]
    [InlineData("nvidia-l4")]
    [InlineData("https://www.googleapis.com/compute/v1/projects/travis-ci-prod/zones/us-central1-c/acceleratorTypes/nvidia-l4")]
    [InlineData("zones/us-central1-c/acceleratorTypes/nvidia-l4")]
    public void Travis_workers_gpu_type_may_be_the_types_url_and_its_name_is_taken(string value) =>
        Assert.Equal("nvidia-l4", GceOptions.Load(SettingsSource.From(("TRAVIS_WORKER_GCE_GPU_TYPE", value))).DefaultGpuType);

    [Fact]
    public void The_env_selector_stays_the_default_and_api_takes_its_url()
    {
        Assert.Equal(new Core.Images.ImageSelectorChoice("env"), GceOptions.Load(SettingsSource.From()).ImageSelector);
        Assert.Equal(new Core.Images.ImageSelectorChoice("api", new Uri("https://worker:pass@job-board.example/images/search")),
            GceOptions.Load(SettingsSource.From(("GCE_IMAGE_SELECTOR_TYPE", "api"), ("GCE_IMAGE_SELECTOR_URL", "https://worker:pass@job-board.example/images/search"))).ImageSelector);
    }

    [Fact]
    public void Every_key_is_in_the_list_that_feeds_worker_config()
    {
        Assert.Contains(GceOptions.All, s => s.Key == "GCE_SKIP_STOP_POLL");
        Assert.Equal(GceOptions.All.Count, GceOptions.All.Select(s => s.Key).Distinct().Count());
        Assert.All(GceOptions.All, s => Assert.StartsWith("GCE_", s.Key));
    }
}
