using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>
/// GPUs on job VMs, as travis-worker attached them: one for a GPU vm_size, those of the payload's
/// vm_config otherwise, in the zone the VM goes to, within the operator's WORKER_GCE_MAX_GPUS.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GceGpuTests() : FakeGceTest(bootVms: true)
{
    [Theory]
    [InlineData("gpu-medium", "nvidia-tesla-t4")]
    [InlineData("gpu-xlarge", "nvidia-tesla-v100")]
    public async Task A_GPU_vm_size_gets_an_n1_standard_8_with_one_GPU_of_its_zone_that_stops_for_host_maintenance(string vmSize, string gpuType)
    {
        await using var instance = await StartAsync(Bed.Backend(("GCE_MAX_GPUS", "1")), vmSize);

        var vm = Fake.Instance(instance.Id)!;
        Assert.EndsWith("/zones/us-central1-a/machineTypes/n1-standard-8", Text(vm["machineType"]));
        var gpu = Assert.Single(vm["guestAccelerators"]!.AsArray())!;
        Assert.Equal($"{FakeComputeApi.SelfLinkBase}projects/{FakeComputeApi.Project}/zones/us-central1-a/acceleratorTypes/{gpuType}", Text(gpu["acceleratorType"]));
        Assert.Equal(1, gpu["acceleratorCount"]!.GetValue<int>());
        Assert.Equal("TERMINATE", Text(vm["scheduling"]!["onHostMaintenance"]));
        Assert.Equal("300", Text(vm["disks"]![0]!["initializeParams"]!["diskSizeGb"])); // room for the CUDA images, as travis-worker gave
        Assert.Contains(Bed.Progress, line => line.Contains($"(n1-standard-8 with 1 {gpuType} GPU, image", StringComparison.Ordinal));
        await StopAsync(instance);
    }

    [Fact]
    public async Task A_job_whose_vm_config_asks_for_two_V100s_runs_on_a_VM_with_them()
    {
        var (_, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_MAX_GPUS", "2")), """
            vm_config: { gpu_count: 2, gpu_type: nvidia-tesla-v100 }
            script: [ "true" ]
            """);

        Assert.Equal("passed", await job.Outcome);
        var (_, path, body) = Assert.Single(Fake.Bodies, b => b.Call == FakeCall.InsertInstance);
        var zone = path.Split('/')[6];
        var gpu = Assert.Single(body["guestAccelerators"]!.AsArray())!;
        Assert.Equal($"zones/{zone}/acceleratorTypes/nvidia-tesla-v100", Text(gpu["acceleratorType"])); // relative to the project, as machineType
        Assert.Equal(2, gpu["acceleratorCount"]!.GetValue<int>());
        Assert.Equal("TERMINATE", Text(body["scheduling"]!["onHostMaintenance"]));
        Assert.Contains("with 2 nvidia-tesla-v100 GPUs", job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    [Theory]
    [InlineData("vm_size: gpu-medium", null, "the job asks for 1 nvidia-tesla-t4 GPU, more than WORKER_GCE_MAX_GPUS allows (0)")]
    [InlineData("vm_config: { gpu_count: 8, gpu_type: nvidia-tesla-v100 }", "2", "the job asks for 8 nvidia-tesla-v100 GPUs, more than WORKER_GCE_MAX_GPUS allows (2)")]
    [InlineData("vm_config: { gpu_count: 1, gpu_type: ../../global/images/x }", "1", "'../../global/images/x' is not a Compute Engine accelerator type")]
    public async Task A_job_asking_for_GPUs_the_operator_does_not_allow_is_refused_before_anything_is_created(string ask, string? ceiling, string reason)
    {
        var backend = ceiling is null ? Bed.Backend() : Bed.Backend(("GCE_MAX_GPUS", ceiling));

        var (verdict, job) = await GceTestBed.RunJobAsync(backend, $"{ask}\nscript: [ 'echo never' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue);
        Assert.Contains(reason, job.Log);
        Assert.Empty(Fake.Requests);
    }

    [Fact]
    public async Task A_job_without_GPUs_gets_none_and_stays_live_migratable()
    {
        await using var instance = await StartAsync(Bed.Backend(("GCE_MAX_GPUS", "4")), "large");

        var vm = Fake.Instance(instance.Id)!;
        Assert.Null(vm["guestAccelerators"]);
        Assert.Equal("MIGRATE", Text(vm["scheduling"]!["onHostMaintenance"]));
        Assert.False(vm["scheduling"]!["preemptible"]!.GetValue<bool>());
        Assert.Equal("20", Text(vm["disks"]![0]!["initializeParams"]!["diskSizeGb"]));
        await StopAsync(instance);
    }

    [Theory]
    [InlineData("a2-highgpu-1g")]
    [InlineData("g2-standard-4")]
    public async Task A_vm_size_the_operator_maps_to_a_machine_type_with_GPUs_built_in_stops_for_host_maintenance(string machineType)
    {
        await using var instance = await StartAsync(Bed.Backend(("GCE_VM_SIZE_MACHINE_TYPES", $"ml={machineType}")), "ml");

        var vm = Fake.Instance(instance.Id)!;
        Assert.EndsWith($"/machineTypes/{machineType}", Text(vm["machineType"]));
        Assert.Null(vm["guestAccelerators"]);
        Assert.Equal("TERMINATE", Text(vm["scheduling"]!["onHostMaintenance"]));
        await StopAsync(instance);
    }

    [Fact]
    public async Task A_travis_worker_deployment_gets_its_GPU_vm_sizes_without_a_ceiling_to_set()
    {
        var variables = Bed.Variables();
        variables["POOL_SIZE"] = "2"; // one of travis-worker's own settings: its form
        await using var instance = await StartAsync(GceRegistration.CreateBackend(new SettingsSource(variables), NullLoggerFactory.Instance), "gpu-xlarge");

        var gpu = Assert.Single(Fake.Instance(instance.Id)!["guestAccelerators"]!.AsArray())!;
        Assert.EndsWith("/acceleratorTypes/nvidia-tesla-v100", Text(gpu["acceleratorType"]));
        await StopAsync(instance);
    }

    [Fact]
    public async Task A_zone_without_the_GPU_or_out_of_GPUs_sends_the_VM_to_the_next_zone_with_that_zones_GPU()
    {
        Fake.WithholdGpu("us-central1-a", "nvidia-tesla-v100");
        Fake.Exhaust("us-central1-b"); // a GPU stockout ends the insert's operation with ZONE_RESOURCE_POOL_EXHAUSTED
        await using var instance = await StartAsync(Bed.Backend(("GCE_MAX_GPUS", "1")), "gpu-xlarge");

        var vm = Fake.Instance(instance.Id)!;
        Assert.EndsWith("/zones/us-central1-f", Text(vm["zone"]));
        Assert.EndsWith("/zones/us-central1-f/machineTypes/n1-standard-8", Text(vm["machineType"]));
        Assert.EndsWith("/zones/us-central1-f/acceleratorTypes/nvidia-tesla-v100", Text(vm["guestAccelerators"]![0]!["acceleratorType"]));
        Assert.Contains("Zone us-central1-a can't take the instance now (no nvidia-tesla-v100 there); trying zone us-central1-b", Bed.Progress);
        Assert.Contains("Zone us-central1-b can't take the instance now (ZONE_RESOURCE_POOL_EXHAUSTED); trying zone us-central1-f", Bed.Progress);
        await StopAsync(instance);
    }

    [Fact]
    public async Task A_GPU_no_zone_of_the_region_offers_refuses_the_job_instead_of_requeuing_it()
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_MAX_GPUS", "1")), """
            vm_config: { gpu_count: 1, gpu_type: nvidia-tesla-k80 }
            script: [ 'echo never' ]
            """);

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue);
        Assert.Contains("no zone of us-central1 offers nvidia-tesla-k80 GPUs (tried us-central1-a, us-central1-b, us-central1-f)", job.Log);
        Assert.Equal(3, Fake.Count(FakeCall.InsertInstance));
        Assert.Empty(Fake.InstanceNames);
    }

    [Theory]
    [InlineData("MIGRATE")]
    [InlineData(null)] // the API's default is MIGRATE
    public async Task The_fake_like_Compute_Engine_refuses_GPUs_on_a_VM_left_to_live_migration(string? onHostMaintenance)
    {
        var body = GceTestBed.InstanceBody("gpu-vm",
            onHostMaintenance is null ? new JsonObject() : new JsonObject { ["onHostMaintenance"] = onHostMaintenance },
            new JsonArray(new JsonObject { ["acceleratorType"] = "zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4", ["acceleratorCount"] = 1 }));

        var error = await Assert.ThrowsAsync<ComputeApiException>(() => Bed.InsertAsync(body));

        Assert.Equal(400, error.Status);
        Assert.Equal(["badRequest"], error.Reasons);
        Assert.EndsWith("HTTP 400: Instances with guest accelerators do not support live migration.", error.Message);
        Assert.False(error.IsAcceleratorTypeNotOffered);
        Assert.Empty(Fake.InstanceNames);
    }

    private Task<IInstance> StartAsync(GceBackend backend, string vmSize) =>
        backend.StartAsync(Bed.Attributes() with { VmSize = vmSize }, Bed.ProgressSink(), CancellationToken.None);

    private async Task StopAsync(IInstance instance)
    {
        await instance.StopAsync(CancellationToken.None);
        Assert.Empty(Fake.InstanceNames);
    }

    private static string Text(JsonNode? node) => node!.GetValue<string>();
}
