using Worker.Core.Backends;

namespace Worker.Docker.Tests;

/// <summary>The inventory the cleanup sidecar uses, on the real engine.</summary>
[Trait("Category", "Integration")]
public sealed class DockerInventoryTests
{
    [Fact]
    public async Task The_inventory_lists_a_jobs_container_with_its_labels_age_and_state_and_deletes_it()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var instance = await harness.StartMachineAsync(31337);
        using var client = DockerEngine.Client();
        var inventory = new DockerInventory(client);

        var machine = Assert.Single(await harness.InventoryAsync());
        await inventory.DeleteAsync(machine, CancellationToken.None);
        var after = await harness.InventoryAsync();
        await instance.StopAsync(CancellationToken.None); // already gone: fine

        Assert.Equal(instance.ContainerId, machine.Id);
        Assert.StartsWith("worker-job-31337-", machine.Name);
        Assert.Equal("31337", machine.Labels[MachineLabels.JobId]);
        Assert.Equal("test-host", machine.Labels[MachineLabels.Host]);
        // A job's container is created when the machine is asked for, and started when its script runs.
        Assert.Equal(MachineState.Provisioning, machine.State);
        Assert.InRange(machine.CreatedAt!.Value, DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Empty(after);
    }
}
