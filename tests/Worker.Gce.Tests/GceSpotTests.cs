using System.Text.Json.Nodes;

namespace Worker.Gce.Tests;

/// <summary>
/// VMs Compute Engine may take back, Spot and preemptible: the scheduling it holds them to, which
/// the fake holds them to as well.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GceSpotTests() : FakeGceTest(bootVms: false)
{
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
}
