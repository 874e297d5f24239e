using System.Text.Json.Nodes;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>
/// Spot job VMs (WORKER_GCE_SPOT), and the scheduling Compute Engine holds the VMs it may take back,
/// Spot and preemptible, to, which the fake holds them to as well.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GceSpotTests() : FakeGceTest(bootVms: true)
{
    [Fact]
    public async Task A_Spot_job_VM_is_provisioned_SPOT_is_stopped_when_preempted_and_is_neither_restarted_nor_migrated()
    {
        var (_, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_SPOT", "true")), "script: [ 'echo ran on spot' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("ran on spot", job.Log);
        var scheduling = InsertedScheduling();
        Assert.Equal("SPOT", Text(scheduling["provisioningModel"]));
        Assert.Equal("STOP", Text(scheduling["instanceTerminationAction"]));
        Assert.False(scheduling["automaticRestart"]!.GetValue<bool>());
        Assert.Equal("TERMINATE", Text(scheduling["onHostMaintenance"]));
        Assert.False(scheduling.ContainsKey("preemptible"));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_Spot_job_with_a_GPU_vm_size_runs_on_a_Spot_VM_with_its_GPU()
    {
        var (_, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_SPOT", "true"), ("GCE_MAX_GPUS", "1")), """
            vm_size: gpu-medium
            script: [ "true" ]
            """);

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("(n1-standard-8 with 1 nvidia-tesla-t4 GPU, image", job.Log);
        var (_, _, body) = Assert.Single(Fake.Bodies, b => b.Call == FakeCall.InsertInstance);
        Assert.EndsWith("/acceleratorTypes/nvidia-tesla-t4", Text(Assert.Single(body["guestAccelerators"]!.AsArray())!["acceleratorType"]));
        var scheduling = InsertedScheduling();
        Assert.Equal("SPOT", Text(scheduling["provisioningModel"]));
        Assert.Equal("TERMINATE", Text(scheduling["onHostMaintenance"]));
        Assert.Empty(Fake.InstanceNames);
    }

    [Theory]
    [InlineData("""{ "provisioningModel": "SPOT", "automaticRestart": true }""",
        "'resource.scheduling.provisioningModel': 'SPOT'. Scheduling must have provisioningModel be STANDARD when AutomaticRestart is true.")]
    [InlineData("""{ "provisioningModel": "SPOT", "onHostMaintenance": "MIGRATE" }""",
        "'resource.scheduling.provisioningModel': 'SPOT'. Scheduling must have provisioningModel be STANDARD when OnHostMaintenance isn't TERMINATE.")]
    [InlineData("""{ "preemptible": true, "automaticRestart": true }""",
        "'resource.scheduling.preemptible': 'true'. Scheduling must have preemptible be false when AutomaticRestart is true.")]
    [InlineData("""{ "preemptible": true, "onHostMaintenance": "MIGRATE" }""",
        "'resource.scheduling.preemptible': 'true'. Scheduling must have preemptible be false when OnHostMaintenance isn't TERMINATE.")]
    [InlineData("""{ "preemptible": true, "provisioningModel": "STANDARD" }""",
        "'resource.scheduling.provisioningModel': 'STANDARD'. For preemptible, only allowed provisioning_model value is SPOT")]
    [InlineData("""{ "instanceTerminationAction": "STOP" }""",
        "'resource.scheduling.instanceTerminationAction': 'STOP'. You cannot specify a termination action for a VM instance that has the standard provisioning model (default).")]
    [InlineData("""{ "provisioningModel": "spot" }""", "'resource.scheduling.provisioningModel': 'spot'.")]
    public async Task The_fake_like_Compute_Engine_refuses_a_VM_it_may_take_back_that_asks_to_be_restarted_or_migrated(string scheduling, string why)
    {
        var body = GceTestBed.InstanceBody("spot-vm", JsonNode.Parse(scheduling)!.AsObject());

        var error = await Assert.ThrowsAsync<ComputeApiException>(() => Bed.InsertAsync(body));

        Assert.Equal(400, error.Status);
        Assert.Equal(["invalid"], error.Reasons);
        Assert.EndsWith($"HTTP 400: Invalid value for field {why}", error.Message);
        Assert.Empty(Fake.InstanceNames);
    }

    [Theory]
    [InlineData("""{ "provisioningModel": "SPOT", "instanceTerminationAction": "STOP", "automaticRestart": false, "onHostMaintenance": "TERMINATE" }""")]
    [InlineData("""{ "provisioningModel": "SPOT" }""")] // Compute Engine sets the rest for a Spot VM
    [InlineData("""{ "provisioningModel": "SPOT", "preemptible": true, "instanceTerminationAction": "DELETE" }""")] // as Google's own samples write it
    [InlineData("""{ "preemptible": true, "automaticRestart": false, "onHostMaintenance": "TERMINATE" }""")]
    public async Task The_fake_like_Compute_Engine_takes_Spot_and_preemptible_VMs_that_ask_for_neither(string scheduling)
    {
        await Bed.InsertAsync(GceTestBed.InstanceBody("spot-vm", JsonNode.Parse(scheduling)!.AsObject()));

        Assert.Equal(["spot-vm"], Fake.InstanceNames);
    }

    /// <summary>The <c>scheduling</c> of the one insert the worker sent.</summary>
    private JsonObject InsertedScheduling() =>
        Assert.Single(Fake.Bodies, b => b.Call == FakeCall.InsertInstance).Body["scheduling"]!.AsObject();

    private static string Text(JsonNode? node) => node!.GetValue<string>();
}
