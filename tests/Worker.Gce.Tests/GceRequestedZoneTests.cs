using System.Text.Json.Nodes;
using Worker.Core.Jobs;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>
/// A payload's <c>vm_config.zone</c>, as travis-worker read it: the VM goes to that zone and no
/// other, which must be a zone of the worker's region. The fake lists us-central1-a, -b, -c (DOWN)
/// and -f, and europe-west1-b; the worker is configured with us-central1-a.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GceRequestedZoneTests() : FakeGceTest(bootVms: true)
{
    [Theory]
    [InlineData("us-central1-f")] // the region's zone the worker would try last
    [InlineData("us-central1-c")] // DOWN in the kept listing, so passed over for jobs naming no zone; the insert's answer is fresher
    public async Task A_job_naming_a_zone_of_the_region_gets_its_VM_and_its_GPU_there_though_the_worker_would_try_another_first(string zone)
    {
        var (_, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_MAX_GPUS", "1")), $$"""
            vm_config: { gpu_count: 1, gpu_type: nvidia-tesla-t4, zone: {{zone}} }
            script: [ "true" ]
            """);

        Assert.Equal("passed", await job.Outcome);
        var (_, path, body) = Assert.Single(Fake.Bodies, b => b.Call == FakeCall.InsertInstance);
        Assert.Equal(zone, path.Split('/')[6]);
        Assert.Equal($"zones/{zone}/acceleratorTypes/nvidia-tesla-t4", Text(body["guestAccelerators"]![0]!["acceleratorType"]));
        Assert.Contains($"in zone {zone} (the job's vm_config.zone)", job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_job_naming_one_of_the_configured_zones_gets_its_VM_there_without_the_zones_being_listed()
    {
        var backend = Bed.Backend(("GCE_ZONES", "us-central1-a,us-central1-b"));

        await using var instance = await backend.StartAsync(Bed.Attributes() with { RequestedZone = "us-central1-b" }, Bed.ProgressSink(), CancellationToken.None);

        Assert.EndsWith("/zones/us-central1-b", Text(Fake.Instance(instance.Id)!["zone"]));
        Assert.Equal(0, Fake.Count(FakeCall.ListZones));
        await instance.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_named_zone_that_is_full_requeues_the_job_instead_of_sending_the_VM_to_another_zone()
    {
        Fake.Exhaust("us-central1-f");

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), """
            vm_config: { zone: us-central1-f }
            script: [ 'echo never' ]
            """);

        Assert.Equal("requeued", await job.Outcome);
        Assert.True(verdict.RequeueCounted);
        Assert.Equal(HostSignal.None, verdict.Host);
        Assert.Contains("zone us-central1-f, which the job's vm_config.zone names, can't take the instance now: ZONE_RESOURCE_POOL_EXHAUSTED", job.RequeueReason);
        var zonesTried = Fake.Requests.Where(r => r.Call == FakeCall.InsertInstance).Select(r => r.Path.Split('/')[6]).ToList();
        Assert.Equal(["us-central1-f"], zonesTried);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_named_zone_without_the_GPU_refuses_the_job_as_a_region_without_it_does()
    {
        Fake.WithholdGpu("us-central1-f", "nvidia-tesla-v100");

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_MAX_GPUS", "1")), """
            vm_config: { gpu_count: 1, gpu_type: nvidia-tesla-v100, zone: us-central1-f }
            script: [ 'echo never' ]
            """);

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue);
        Assert.Contains("zone us-central1-f, which the job's vm_config.zone names, does not offer nvidia-tesla-v100 GPUs", job.Log);
        Assert.Equal(1, Fake.Count(FakeCall.InsertInstance));
        Assert.Empty(Fake.InstanceNames);
    }

    [Theory]
    [InlineData("europe-west1-b", "vm_config.zone europe-west1-b is in region europe-west1; this worker uses region us-central1")]
    [InlineData("us-central1-z", "vm_config.zone us-central1-z is no zone Compute Engine lists in project test-project; this worker uses region us-central1")]
    [InlineData("us-central1-a/instances", "vm_config.zone us-central1-a/instances is no zone Compute Engine lists")]
    public async Task A_zone_outside_the_workers_region_refuses_the_job_naming_it_before_anything_is_created(string zone, string reason)
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), $$"""
            vm_config: { zone: "{{zone}}" }
            script: [ 'echo never' ]
            """);

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue);
        Assert.Contains(reason, job.Log);
        Assert.Equal(0, Fake.Count(FakeCall.InsertInstance));
    }

    [Fact]
    public async Task A_worker_not_allowed_to_list_the_zones_requeues_a_job_naming_another_zone_and_stays_open()
    {
        Fake.AddAccount("no-zone-list", FakeCall.ListZones);

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_ACCESS_TOKEN", "no-zone-list")), """
            vm_config: { zone: us-central1-f }
            script: [ 'echo never' ]
            """);

        Assert.Equal("requeued", await job.Outcome);
        Assert.True(verdict.RequeueCounted);
        Assert.Equal(HostSignal.None, verdict.Host); // jobs that name no zone, or a configured one, still start here
        Assert.Contains("can't tell whether vm_config.zone us-central1-f is in region us-central1", job.RequeueReason);
        Assert.Contains("compute.zones.list", job.RequeueReason);
        Assert.Equal(0, Fake.Count(FakeCall.InsertInstance));
    }

    private static string Text(JsonNode? node) => node!.GetValue<string>();
}
