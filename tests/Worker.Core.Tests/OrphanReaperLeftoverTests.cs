using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Cleanup;

namespace Worker.Core.Tests;

/// <summary>The cleanup pass over an inventory whose backend keeps files beside its machines (<see cref="ILeftoverFiles"/>).</summary>
public sealed class OrphanReaperLeftoverTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Each_pass_sweeps_the_leftover_files_and_a_dry_run_only_asks_which_they_are(bool dryRun)
    {
        var inventory = new InventoryWithLeftovers();

        await Reaper(inventory).RunOnceAsync(dryRun, CancellationToken.None);

        Assert.Equal([dryRun], inventory.Sweeps);
    }

    [Fact]
    public async Task Leftover_files_that_cannot_be_swept_keep_no_machine_from_its_pass()
    {
        var inventory = new InventoryWithLeftovers { SweepFailure = new IOException("Permission denied") };

        var decision = Assert.Single(await Reaper(inventory).RunOnceAsync(dryRun: false, CancellationToken.None));

        Assert.True(decision.Delete);
        Assert.Equal(["stopped-vm"], inventory.Deleted);
    }

    private static OrphanReaper Reaper(IInstanceInventory inventory) =>
        new(inventory, hosts: null, "fleet-1", new CleanupOptions(), NullLogger<OrphanReaper>.Instance);

    /// <summary>One stopped machine of fleet-1, and leftover files beside it.</summary>
    private sealed class InventoryWithLeftovers : IInstanceInventory, ILeftoverFiles
    {
        public Exception? SweepFailure { get; init; }

        public List<bool> Sweeps { get; } = [];

        public List<string> Deleted { get; } = [];

        public string Backend => "fake";

        public string Why => "nobody needs it";

        public IReadOnlyList<string> Sweep(bool dryRun)
        {
            Sweeps.Add(dryRun);
            return SweepFailure is null ? ["/state/left.lock"] : throw SweepFailure;
        }

        public async IAsyncEnumerable<MachineRecord> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Yield();
            yield return new MachineRecord("stopped-vm", "stopped-vm", new Dictionary<string, string> { [MachineLabels.Fleet] = "fleet-1" },
                CreatedAt: null, MachineState.Stopped);
        }

        public Task DeleteAsync(MachineRecord machine, CancellationToken ct)
        {
            Deleted.Add(machine.Name);
            return Task.CompletedTask;
        }

        public void Dispose()
        {
        }
    }
}
