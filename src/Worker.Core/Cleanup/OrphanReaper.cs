using Microsoft.Extensions.Logging;
using Worker.Core.Backends;

namespace Worker.Core.Cleanup;

/// <summary>
/// The cleanup sidecar's loop over one backend's inventory: each pass lists the machines, decides
/// about each with <see cref="OrphanPolicy"/>, logs one line per decision and deletes the orphans,
/// at most <see cref="CleanupOptions.DeletesPerSecond"/> per second. An inventory that has
/// <see cref="ILeftoverFiles"/> gets them swept first. A failed pass or delete is logged and tried
/// again next pass; unlike gcloud-cleanup, an error never stops the sidecar.
/// </summary>
public sealed class OrphanReaper(
    IInstanceInventory inventory,
    IWorkerHostDirectory? hosts,
    string fleet,
    CleanupOptions options,
    ILogger<OrphanReaper> logger,
    TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>Runs passes every <see cref="CleanupOptions.Interval"/> until <paramref name="ct"/> fires.</summary>
    public async Task RunAsync(bool dryRun, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(dryRun, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The message is what an operator acts on; the stack trace only helps with bugs.
                logger.LogError("Cleanup pass over {Backend} failed ({Error}); trying again in {Interval}", inventory.Backend, e.Message, options.Interval);
                logger.LogDebug(e, "Cleanup pass failure");
            }
            try
            {
                await Task.Delay(options.Interval, _clock, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass. With <paramref name="dryRun"/> it decides and logs the same, but deletes nothing.</summary>
    public async Task<IReadOnlyList<OrphanDecision>> RunOnceAsync(bool dryRun, CancellationToken ct)
    {
        using var pass = Telemetry.WorkerTelemetry.Source.StartActivity("cleanup pass");
        pass?.SetTag(Telemetry.TraceAttributes.Backend, inventory.Backend);
        SweepLeftoverFiles(dryRun);
        var liveHosts = await LiveHostsAsync(ct);
        var now = _clock.GetUtcNow();
        var decisions = new List<OrphanDecision>();
        await foreach (var machine in inventory.ListAsync(ct))
        {
            decisions.Add(OrphanPolicy.Decide(machine, fleet, now, liveHosts, options.NeverStartedAfter));
        }
        var spacing = TimeSpan.FromSeconds(1 / options.DeletesPerSecond);
        var deleted = 0;
        foreach (var decision in decisions)
        {
            var m = decision.Machine;
            Telemetry.WorkerMetrics.CleanupDecision(inventory.Backend, decision.Delete);
            if (!decision.Delete)
            {
                logger.LogInformation("Keeping {Backend} machine {Name} ({State}): {Reason}", inventory.Backend, m.Name, m.State, decision.Reason);
                continue;
            }
            if (dryRun)
            {
                logger.LogInformation("Would delete {Backend} machine {Name} ({State}) (dry run): {Reason}", inventory.Backend, m.Name, m.State, decision.Reason);
                continue;
            }
            if (deleted > 0)
            {
                await Task.Delay(spacing, _clock, ct);
            }
            try
            {
                await inventory.DeleteAsync(m, ct);
                deleted++;
                Telemetry.WorkerMetrics.CleanupDeletion(inventory.Backend, deleted: true);
                logger.LogInformation("Deleted {Backend} machine {Name} ({State}): {Reason}", inventory.Backend, m.Name, m.State, decision.Reason);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                deleted++;
                Telemetry.WorkerMetrics.CleanupDeletion(inventory.Backend, deleted: false);
                logger.LogWarning("Could not delete {Backend} machine {Name} ({Error}); trying again next pass", inventory.Backend, m.Name, e.Message);
                logger.LogDebug(e, "Delete failure");
            }
        }
        return decisions;
    }

    /// <summary>Files that outlived their machines; failing here never keeps the machines from their pass.</summary>
    private void SweepLeftoverFiles(bool dryRun)
    {
        if (inventory is not ILeftoverFiles leftovers)
        {
            return;
        }
        try
        {
            foreach (var path in leftovers.Sweep(dryRun))
            {
                if (dryRun)
                {
                    logger.LogInformation("Would remove {Backend} leftover file {Path} (dry run): {Reason}", inventory.Backend, path, leftovers.Why);
                }
                else
                {
                    logger.LogInformation("Removed {Backend} leftover file {Path}: {Reason}", inventory.Backend, path, leftovers.Why);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Could not sweep {Backend} leftover files ({Error}); trying again next pass", inventory.Backend, e.Message);
        }
    }

    private async Task<ILiveWorkerHosts?> LiveHostsAsync(CancellationToken ct)
    {
        if (hosts is null)
        {
            return null;
        }
        try
        {
            return await hosts.LiveHostsAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Not knowing which hosts live must never look like "they are all gone".
            logger.LogWarning("Could not list worker hosts ({Error}); no machine is deleted for a missing host this pass", e.Message);
            logger.LogDebug(e, "Worker host listing failure");
            return null;
        }
    }
}
