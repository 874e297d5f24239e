using Microsoft.Extensions.Logging;
using Worker.Core.Backends;

namespace Worker.Vm;

/// <summary>
/// Makes a booted VM, for a job or a standby alike: pulls its image if it is missing, takes the
/// run-arguments lease the VM needs, writes its record (before anything exists, so a crash at any
/// later moment leaves a VM that cleanup can judge), boots it, and destroys it at once, on its own
/// token, when any of that fails.
/// </summary>
public sealed class VmLauncher(VmTool tool, VmOptions options, VmImages images, VmRecordStore records, RunArgumentLeases leases, ILogger logger)
{
    /// <summary>How long destroying a VM whose boot failed may take.</summary>
    private static readonly TimeSpan TeardownBudget = TimeSpan.FromMinutes(2);

    public VmTool Tool => tool;

    public async Task<VmMachine> LaunchAsync(string name, VmSpec spec, IReadOnlyDictionary<string, string> labels,
        IProgress<string> progress, CancellationToken ct)
    {
        try
        {
            await images.EnsureLocalAsync(spec.Image, progress, ct);
        }
        catch (VmCliException e)
        {
            throw BackendFailureException.Host($"{tool.Name} list fails on this host: {e.Result.FirstLine}", e);
        }
        var lease = spec.AppendRun is { } append ? await leases.AcquireAsync(append.Lease, progress, ct) : null;
        VmRecordLock record;
        try
        {
            record = records.Create(name, tool.Name, labels);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lease?.Dispose();
            throw BackendFailureException.Host(
                $"can't write the record of VM {name} in {records.Directory} ({e.Message}); check WORKER_BASE_DIR", e);
        }
        var machine = new VmMachine(tool, options, name, spec, record, lease, logger);
        try
        {
            await machine.BootAsync(progress, ct);
            return machine;
        }
        catch (Exception e)
        {
            logger.LogWarning("VM {Vm} did not come up ({Error}); deleting it now", name, e.Message);
            using var teardown = new CancellationTokenSource(TeardownBudget);
            try
            {
                await machine.DestroyAsync(teardown.Token);
            }
            catch (Exception destroy)
            {
                logger.LogDebug(destroy, "Destroying VM {Vm} after its failed boot", name);
            }
            throw;
        }
    }
}
