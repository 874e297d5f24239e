using System.Globalization;
using System.Runtime.CompilerServices;
using Worker.Core.Backends;

namespace Worker.Vm;

/// <summary>
/// What the cleanup sidecar sees on a Tart or Vetu host: the local VMs <c>list</c> shows that have a
/// record under <c>WORKER_BASE_DIR</c>, with the record's labels and whether a live worker process
/// holds the VM's lock. A VM without a record is not listed, so it is never touched (golden images,
/// another tool's VMs). Delete stops the VM, deletes it and removes its record.
/// </summary>
public sealed class VmInventory(VmTool tool, VmRecordStore records) : IInstanceInventory
{
    public string Backend => tool.Name;

    public async IAsyncEnumerable<MachineRecord> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var vm in await tool.ListAsync(ct))
        {
            if (!vm.Local || records.Read(vm.Name) is not { } record)
            {
                continue;
            }
            var created = record.Labels.TryGetValue(MachineLabels.CreatedAt, out var text) &&
                          long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : (DateTimeOffset?)null;
            yield return new MachineRecord(vm.Name, vm.Name, record.Labels, created, vm.State, HeldByLiveWorker: records.IsHeld(vm.Name));
        }
    }

    public async Task DeleteAsync(MachineRecord machine, CancellationToken ct)
    {
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
