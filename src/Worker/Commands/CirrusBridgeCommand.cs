using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Worker.Cirrus.Config;
using Worker.Cirrus.Session;
using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Commands;

/// <summary>
/// <c>worker cirrus bridge</c>: fleet mode. Registers as one persistent worker whose
/// <c>resources</c> are the fleet's, puts each task on the AMQP job queue for the <c>worker run</c>
/// hosts, and tells Cirrus what they report. The tasks the previous run of the bridge left are
/// taken over first (counted in the first poll, each still gets its <c>TaskStopped</c>). SIGTERM or
/// SIGINT stops polling and exits 0 at once: the tasks go on on the fleet, and the next start of
/// the bridge reports them. <c>shutdown: true</c> from Cirrus waits until every task stopped.
/// </summary>
public static class CirrusBridgeCommand
{
    public static async Task<int> RunAsync(SettingsSource settings, string? file, CirrusFlags flags)
    {
        var (config, effective) = CirrusParts.Load(settings, file, flags);
        using var context = WorkerContext.Create(effective);
        await using var parts = CirrusParts.Create(context, config);
        var logger = context.LoggerFactory.CreateLogger("cirrus-bridge");
        using var signalled = new CancellationTokenSource();
        void OnSignal(PosixSignalContext signal)
        {
            signal.Cancel = true;
            logger.LogInformation("{Signal}: the bridge stops; the tasks on the fleet go on and its next start reports them", signal.Signal);
            signalled.Cancel();
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        var runner = await parts.CreateFleetRunnerAsync(signalled.Token);
        var session = parts.CreateSession(runner);
        // Registered first, so what the last run left is reported under this run's session, and counted in the first poll.
        foreach (var upstream in parts.Upstreams)
        {
            await upstream.RegisterAsync(session.WorkerInfo(), signalled.Token);
        }
        foreach (var left in parts.Forwarded!.All)
        {
            if (!session.Adopt(left.Endpoint, new TaskRef(left.TaskId, left.ClientSecret), [left.ClientSecret, left.ServerSecret], left.Resources,
                    (report, held, ct) => runner.FollowAsync(left, report, held, ct)))
            {
                logger.LogWarning("Task {TaskId} was forwarded for {Endpoint}, which is no longer an upstream of this worker; forgotten", left.TaskId, left.Endpoint);
                parts.Forwarded.Remove(left.TaskId);
            }
        }
        await parts.FleetQueue!.WatchStatesAsync(runner.OnStateAsync, signalled.Token);

        logger.LogInformation("Cirrus bridge {Name} polling {Endpoints}, its tasks on AMQP queue {Queue}", config.Name,
            string.Join(", ", parts.Upstreams.Select(u => u.Endpoint)), context.Options.JobQueueName);
        var end = await session.RunAsync(signalled.Token);
        if (end == CirrusWorkerSession.End.ShutdownRequested)
        {
            session.StopTakingTasks();
            logger.LogInformation("Waiting for {Count} task(s) on the fleet to stop", session.RunningCount);
            await Task.WhenAny(session.WhenIdleAsync(), Task.Delay(Timeout.Infinite, signalled.Token).ContinueWith(_ => { }, TaskScheduler.Default));
        }
        // What is still on the fleet is the next run's to report: nothing may tell Cirrus it stopped now.
        runner.Abandon();
        logger.LogInformation("Cirrus bridge {Name} stopped", config.Name);
        return 0;
    }
}
