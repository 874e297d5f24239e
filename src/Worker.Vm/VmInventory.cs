using System.Globalization;
using System.Runtime.CompilerServices;
using Worker.Core.Backends;

namespace Worker.Vm;

/// <summary>
/// What the cleanup sidecar sees on a Tart or Vetu host: the local VMs <c>list</c> shows that have a
/// record under <c>WORKER_BASE_DIR</c>, with the record's labels and whether a live worker process
/// holds the VM's lock. A VM without a record is not listed, so it is never touched (golden images,
/// another tool's VMs). A record of this tool whose VM <c>list</c> does not show is listed as
/// <see cref="MachineState.Gone"/> (a worker that died between writing it and the clone, or a VM
/// deleted by hand). Delete stops the VM, deletes it and removes its record; of a gone one, only
/// the record. Lock files with no record that no live process holds are swept as leftovers
/// (<see cref="VmRecordStore.SweepLeftovers"/>).
/// </summary>
public sealed class VmInventory(VmTool tool, VmRecordStore records) : IInstanceInventory, ILeftoverFiles
{
    public string Backend => tool.Name;

    public string Why => "a lock file with no record, or a record left half-written, of a VM no live process holds";

    public IReadOnlyList<string> Sweep(bool dryRun) => records.SweepLeftovers(dryRun);

    public async IAsyncEnumerable<MachineRecord> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var listed = await tool.ListAsync(ct);
        foreach (var vm in listed)
        {
            if (vm.Local && records.Read(vm.Name) is { } record)
            {
                yield return Machine(record, vm.State);
            }
        }
        // Read after the list: a record written since belongs to a VM being made, and its worker holds its lock.
        var names = listed.Select(vm => vm.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var record in records.ReadAll().Where(r => r.Tool == tool.Name && !names.Contains(r.Name)).ToList())
        {
            yield return Machine(record, MachineState.Gone);
        }
    }

    private MachineRecord Machine(VmRecord record, MachineState state)
    {
        var created = record.Labels.TryGetValue(MachineLabels.CreatedAt, out var text) &&
                      long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : (DateTimeOffset?)null;
        return new MachineRecord(record.Name, record.Name, record.Labels, created, state, HeldByLiveWorker: records.IsHeld(record.Name));
    }

    public async Task DeleteAsync(MachineRecord machine, CancellationToken ct)
    {
        if (machine.State == MachineState.Gone)
        {
            records.Remove(machine.Name);
            return;
        }
        if (machine.State != MachineState.Stopped)
        {
            await tool.StopAsync(machine.Name, ct);
        }
        await tool.DeleteAsync(machine.Name, ct);
        records.Remove(machine.Name);
    }

    /// <summary>Nothing to let go of: each call is its own process.</summary>
    public void Dispose()
    {
    }
}
