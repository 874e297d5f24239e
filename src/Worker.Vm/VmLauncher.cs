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

    /// <summary>The moves of <paramref name="image"/>'s tag seen so far (<see cref="VmImages.Moves"/>).</summary>
    public int ImageMoves(string image) => images.Moves(image);

    /// <param name="name">The VM's name.</param>
    /// <param name="spec">What it is made of.</param>
    /// <param name="labels">Its record's labels.</param>
    /// <param name="progress">Told what happens, for the job's log.</param>
    /// <param name="ct">Gives up.</param>
    /// <param name="imageEnsured">The caller had the image made sure of (<see cref="EnsureImageAsync"/>) just now: no second pull.</param>
    public async Task<VmMachine> LaunchAsync(string name, VmSpec spec, IReadOnlyDictionary<string, string> labels,
        IProgress<string> progress, CancellationToken ct, bool imageEnsured = false)
    {
        if (!imageEnsured)
        {
            await EnsureImageAsync(spec.Image, progress, ct);
        }
        // Read before the clone: a move seen during it leaves this VM counted as of the image before.
        var moves = images.Moves(spec.Image);
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
        var machine = new VmMachine(tool, options, name, spec, record, lease, logger) { ImageMoves = moves };
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

    /// <summary>Has <paramref name="image"/> here as the pull policy says (pulled when missing, or every time under <c>always</c>).</summary>
    public async Task EnsureImageAsync(string image, IProgress<string> progress, CancellationToken ct)
    {
        try
        {
            await images.EnsureLocalAsync(image, progress, ct);
        }
        catch (VmCliException e)
        {
            throw BackendFailureException.Host($"{tool.Name} list fails on this host: {e.Result.FirstLine}", e);
        }
    }
}
