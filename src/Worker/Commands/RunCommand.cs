using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Worker.Composition;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;
using Worker.Hooks;
using Worker.Http;

namespace Worker.Commands;

/// <summary>
/// <c>worker run</c>: the long-running host. SIGTERM or SIGINT drains: no new jobs, running ones
/// get <c>WORKER_SHUTDOWN_TIMEOUT</c> to finish (less when it does not fit <c>WORKER_STOP_WINDOW</c>),
/// the rest are requeued, exit 0. A second signal requeues everything at once.
/// The queue and the backend are disposed on the way out: results reach the broker and idle standby
/// machines go. travis-worker's start and stop hooks run just before the first job and after the last.
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "Take jobs from the configured queue until SIGTERM or SIGINT (drains first).");
        command.SetAction((_, _) => CommandErrors.GuardAsync(() => RunAsync(SettingsSource.FromEnvironment())));
        return command;
    }

    public static async Task<int> RunAsync(SettingsSource settings)
    {
        using var context = WorkerContext.Create(settings);
        var logger = context.LoggerFactory.CreateLogger("run");
        var sources = JobSources.Configured(settings);
        foreach (var source in sources)
        {
            source.CheckSettings?.Invoke(settings);
        }
        // Disposed in reverse: the backend after the queue, both after the pool has stopped.
        await using var backend = Backends.Configured(settings).CreateBackend(context.Services);
        using var agentDownloads = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        // Fleet mode: a Cirrus task a bridge queued runs on its isolation's backend, made when one first needs it.
        var (isolations, cirrusTasks) = CirrusParts.ForFleetHost(context, backend, agentDownloads);
        await using var isolationBackends = isolations;
        await using var queue = JobSources.CreateQueue(sources, context.Services);
        var pool = context.CreatePool(queue, backend, isolationBackends, [cirrusTasks]);
        var shutdown = ShutdownBudget.For(context.Options);
        if (shutdown.Warning is { } warning)
        {
            logger.LogWarning("{Warning}", warning);
        }

        var signals = 0;
        void OnSignal(PosixSignalContext signal)
        {
            signal.Cancel = true;
            if (Interlocked.Increment(ref signals) == 1)
            {
                logger.LogInformation("{Signal}: draining (up to {Timeout}); send it again to requeue running jobs at once",
                    signal.Signal, shutdown.DrainWait);
                _ = pool.DrainAsync(shutdown.DrainWait);
            }
            else
            {
                logger.LogWarning("{Signal} again: requeueing running jobs now", signal.Signal);
                pool.StopNow();
            }
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var travisSignals = new TravisSignals(pool, context.Options.Host, shutdown.DrainWait, logger);

        logger.LogInformation("Worker {Host} taking jobs from {QueueType} queue {Queue} with {PoolSize} processor(s) on backend {Backend}",
            context.Options.Host, string.Join(",", sources.Select(s => s.Name)), context.Options.JobQueueName, pool.Size, backend.Name);
        // The server binds before any job is taken, so a taken port stops start-up instead of a running host.
        await using var server = await WorkerHttpServer.StartAsync(HttpOptions.Load(settings), pool, context.Options.Host,
            context.Options.Shutdown, context.LoggerFactory, metrics: context.Telemetry.Metrics);
        await using var hosting = GroupHosting.Start(context, pool, logger);
        var hooks = LifecycleHookOptions.Load(settings);
        await new LifecycleHook("start hook", hooks.StartCommand, logger).RunAsync();
        var running = pool.RunAsync(CancellationToken.None);
        await using var retirement = Retirement.Start(RetirementOptions.Load(settings), pool, ShutdownBudget.RetirementWait(context.Options), logger);
        await using var heartbeat = Heartbeat.Start(HeartbeatOptions.Load(settings), pool, ShutdownBudget.RetirementWait(context.Options), logger);
        await running;
        logger.LogInformation("Worker stopped after {Processed} job(s)", pool.Processed);
        await new LifecycleHook("stop hook", hooks.StopCommand, logger).RunAsync();
        return 0;
    }
}
