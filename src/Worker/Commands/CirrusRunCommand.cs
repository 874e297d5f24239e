using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Worker.Cirrus.Config;
using Worker.Cirrus.Session;
using Worker.Composition;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;

namespace Worker.Commands;

/// <summary>
/// <c>worker cirrus run</c>: registers, polls and runs each task as a job of the pipeline on a fresh
/// machine. SIGTERM or SIGINT drains, which <c>cirrus worker run</c> does not: the worker disables
/// itself at Cirrus (<c>UpdateStatus</c>, for up to 30 s), keeps polling while running tasks finish within
/// <c>WORKER_SHUTDOWN_TIMEOUT</c>, stops what is left (each still gets <c>TaskStopped</c>) and exits 0;
/// a second signal stops them at once. <c>shutdown: true</c> from Cirrus drains the same way. The
/// next start enables a worker its own drain disabled, while it already polls.
/// </summary>
public static class CirrusRunCommand
{
    public static async Task<int> RunAsync(SettingsSource settings, string? file, CirrusFlags flags)
    {
        var (config, effective) = CirrusParts.Load(settings, file, flags);
        using var context = WorkerContext.Create(effective);
        await using var parts = CirrusParts.Create(context, config);
        var logger = context.LoggerFactory.CreateLogger("cirrus");
        var session = parts.CreateSession(parts.CreatePipelineRunner());
        var drainMark = new DrainMark(context.Options.BaseDirectory, config.Name);

        var shutdown = ShutdownBudget.For(context.Options);
        using var signalled = new CancellationTokenSource();
        using var stopNow = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext signal)
        {
            signal.Cancel = true;
            if (Interlocked.Increment(ref signals) == 1)
            {
                logger.LogInformation("{Signal}: draining (up to {Timeout}); send it again to stop running tasks at once", signal.Signal, shutdown.DrainWait);
                signalled.Cancel();
            }
            else
            {
                logger.LogWarning("{Signal} again: stopping running tasks now", signal.Signal);
                stopNow.Cancel();
                session.CancelTasks();
            }
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        logger.LogInformation("Cirrus worker {Name} polling {Endpoints}", config.Name, string.Join(", ", parts.Upstreams.Select(u => u.Endpoint)));
        using var stopPolling = new CancellationTokenSource();
        var polling = session.RunAsync(stopPolling.Token);
        // Beside the polling, not before it: a Cirrus that can't be reached would hold the start for its retries (15 minutes).
        using var stopEnabling = new CancellationTokenSource();
        var enabling = drainMark.EnableAgainAsync(parts.Upstreams, logger, stopEnabling.Token);
        await Task.WhenAny(polling, Task.Delay(Timeout.Infinite, signalled.Token).ContinueWith(_ => { }, TaskScheduler.Default));

        session.StopTakingTasks();
        await stopEnabling.CancelAsync();
        await enabling;
        if (signalled.IsCancellationRequested)
        {
            await drainMark.DisableAsync(parts.Upstreams, logger, stopNow.Token);
        }
        logger.LogInformation("Draining: {Count} task(s) running", session.RunningCount);
        var idle = session.WhenIdleAsync();
        if (await Task.WhenAny(idle, Task.Delay(shutdown.DrainWait)) != idle)
        {
            logger.LogWarning("Drain timeout reached; stopping the running tasks");
            session.CancelTasks();
            await idle;
        }
        await session.WhenIdleAsync();
        await stopPolling.CancelAsync();
        await polling;
        logger.LogInformation("Cirrus worker {Name} stopped", config.Name);
        return 0;
    }

    /// <summary>
    /// A worker its own drain disabled at Cirrus is enabled by its next start (a rolling update must
    /// not leave it paused); a file under WORKER_BASE_DIR lists the upstreams the drain disabled, one
    /// a line, so a pause an operator asked for stays: the drain lists only an upstream that had the
    /// worker enabled. Upstreams are told at once, so one that is down delays no other.
    /// </summary>
    private sealed class DrainMark(string baseDirectory, string workerName)
    {
        private readonly string _path = Path.Combine(baseDirectory, "cirrus", $"{workerName}.disabled-by-drain");

        /// <summary>
        /// How long the drain tries to tell an unreachable Cirrus: without a bound, the retries (15 minutes)
        /// kept a worker with nothing running from exiting. Cirrus that can't be reached gives it no task anyway.
        /// </summary>
        public static readonly TimeSpan DisableBudget = TimeSpan.FromSeconds(30);

        public async Task DisableAsync(IReadOnlyList<CirrusUpstreamClient> upstreams, ILogger logger, CancellationToken stopNow)
        {
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(stopNow);
            budget.CancelAfter(DisableBudget);
            var disabled = await Task.WhenAll(upstreams.Select(async upstream =>
            {
                try
                {
                    if (await CirrusPause.DisableUnlessDisabledAsync(upstream, budget.Token))
                    {
                        return MarkOf(upstream);
                    }
                    logger.LogInformation("Worker {Name} was paused at {Endpoint} already; it stays paused after this drain", workerName, upstream.Endpoint);
                }
                catch (Exception e)
                {
                    logger.LogWarning("Could not disable the worker at {Endpoint} for the drain: {Error}", upstream.Endpoint, e.Message);
                }
                return null;
            }));
            // Kept: the upstreams an earlier drain disabled that this start had not enabled yet.
            var marked = Read(upstreams).Union(disabled.OfType<string>()).ToList();
            if (marked.Count > 0)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
                await File.WriteAllLinesAsync(_path, marked, CancellationToken.None);
            }
        }

        /// <summary>Never throws: a worker Cirrus keeps disabled only gets no tasks, and the mark keeps what is left for the next start.</summary>
        public async Task EnableAgainAsync(IReadOnlyList<CirrusUpstreamClient> upstreams, ILogger logger, CancellationToken ct)
        {
            var marked = Read(upstreams);
            if (marked.Count == 0)
            {
                return;
            }
            var enabled = await Task.WhenAll(upstreams.Where(u => marked.Contains(MarkOf(u))).Select(async upstream =>
            {
                try
                {
                    await CirrusPause.SetDisabledAsync(upstream, disabled: false, ct);
                    logger.LogInformation("Enabled worker {Name} again at {Endpoint}: its last drain had disabled it", workerName, upstream.Endpoint);
                    return MarkOf(upstream);
                }
                catch (Exception e)
                {
                    logger.LogWarning("Could not enable worker {Name} again at {Endpoint} after its last drain: {Error}; the next start tries again",
                        workerName, upstream.Endpoint, e is OperationCanceledException ? "stopped before Cirrus answered" : e.Message);
                    return null;
                }
            }));
            var left = marked.Except(enabled.OfType<string>()).ToList();
            if (left.Count == 0)
            {
                File.Delete(_path);
            }
            else
            {
                await File.WriteAllLinesAsync(_path, left, CancellationToken.None);
            }
        }

        /// <summary>
        /// The marks of upstreams there still are. A file written before it listed them holds a time
        /// instead, and stands for every upstream, as it did then.
        /// </summary>
        private List<string> Read(IReadOnlyList<CirrusUpstreamClient> upstreams)
        {
            if (!File.Exists(_path))
            {
                return [];
            }
            var lines = File.ReadAllLines(_path).Where(l => l.Length > 0).ToList();
            if (lines.Count == 1 && DateTimeOffset.TryParseExact(lines[0], "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            {
                return upstreams.Select(MarkOf).ToList();
            }
            return upstreams.Select(MarkOf).Where(lines.Contains).Distinct().ToList();
        }

        private static string MarkOf(CirrusUpstreamClient upstream) => upstream.Upstream.Identity;
    }
}
