using System.Collections.Concurrent;
using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Config;
using Worker.Cirrus.Security;
using Worker.Cirrus.Standby;
using Worker.Cirrus.Tasks;

namespace Worker.Cirrus.Session;

/// <summary>
/// The persistent worker's conversation with Cirrus: register, poll each upstream with the tasks it
/// holds and what they use, take the tasks it is sent (security first, then the ledger), stop the
/// ones Cirrus cancels, and end when Cirrus says shutdown. Differences from cirrus-cli, each a leak
/// it has: a rejected or failed task is never left counted and always gets <c>TaskStopped</c>; a
/// session the server refuses (Unauthenticated/PermissionDenied) is registered again; an
/// unavailable server is retried with backoff and jitter; each upstream is polled on its own, at
/// the interval it asks for, so one that is down or hangs does not keep the others from being polled.
/// </summary>
public sealed class CirrusWorkerSession(
    CirrusWorkerConfig config,
    IReadOnlyList<CirrusUpstreamClient> upstreams,
    ICirrusTaskRunner runner,
    ILogger<CirrusWorkerSession> logger,
    string? hostName = null,
    TimeProvider? clock = null,
    ICirrusStandby? standby = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<Task, byte> _inFlight = new();
    private readonly ResourceModifierPool _modifiers = new(config.ResourceModifiers);
    private readonly CancellationTokenSource _cancelTasks = new();
    private volatile bool _draining;
    private int _standbyApplied;

    public TaskLedger Ledger { get; } = new(config.Resources);

    public ResourceModifierPool Modifiers => _modifiers;

    /// <summary>Why <see cref="RunAsync"/> returned.</summary>
    public enum End
    {
        /// <summary>The caller's token fired.</summary>
        Stopped,

        /// <summary>Cirrus answered a poll with <c>shutdown: true</c>.</summary>
        ShutdownRequested,
    }

    /// <summary>
    /// Polls until Cirrus asks for shutdown or <paramref name="stop"/> fires. Tasks already taken go
    /// on (a drain waits for them with <see cref="WhenIdleAsync"/>); <see cref="CancelTasks"/> ends them.
    /// </summary>
    public async Task<End> RunAsync(CancellationToken stop)
    {
        if (Interlocked.Exchange(ref _standbyApplied, 1) == 0)
        {
            standby?.Apply(config.Standby);
        }
        // Each upstream on a loop of its own: one that is down is retried for up to 15 minutes, or
        // hangs until the call's deadline, and in turn with the others it would hold up their polls.
        using var stopAll = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var loops = upstreams.Select(u => PollUntilShutdownAsync(u, stopAll.Token)).ToList();
        var shutdown = await await Task.WhenAny(loops);
        await stopAll.CancelAsync();
        await Task.WhenAll(loops);
        if (shutdown)
        {
            logger.LogInformation("Cirrus asked this worker to shut down");
            return End.ShutdownRequested;
        }
        return End.Stopped;
    }

    /// <summary>Polls <paramref name="upstream"/> at the interval it asks for; true when it asks for shutdown, false when stopped. Never throws.</summary>
    private async Task<bool> PollUntilShutdownAsync(CirrusUpstreamClient upstream, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (await PollAsync(upstream, stop))
                {
                    return true;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception e)
            {
                logger.LogError("Polling Cirrus at {Endpoint} failed: {Error}", upstream.Endpoint, Describe(e));
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(upstream.PollIntervalSeconds), _clock, stop);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return false;
    }

    /// <summary>Cancels every running task (their machines go and each is reported stopped).</summary>
    public void CancelTasks() => _cancelTasks.Cancel();

    /// <summary>
    /// Takes no more tasks (the worker drains): one Cirrus still sends is refused (TaskFailed, then
    /// TaskStopped). Polling goes on, so Cirrus sees the running ones until they end and can stop them.
    /// </summary>
    public void StopTakingTasks() => _draining = true;

    /// <summary>How many tasks are held now (taken and not yet reported stopped).</summary>
    public int RunningCount => Ledger.RunningTaskIds.Count;

    /// <summary>Completes when every task taken has ended and been reported stopped.</summary>
    public Task WhenIdleAsync() => Task.WhenAll(_inFlight.Keys);

    public WorkerInfo WorkerInfo()
    {
        var info = new WorkerInfo();
        info.Labels.Add(WorkerLabels.For(config, hostName));
        foreach (var (key, amount) in config.Resources)
        {
            info.ResourcesTotal[key] = amount;
        }
        return info;
    }

    private async Task<bool> PollAsync(CirrusUpstreamClient upstream, CancellationToken stop)
    {
        await upstream.RegisterAsync(WorkerInfo(), stop);
        PollResponse response;
        try
        {
            response = await upstream.PollAsync(() => PollRequest(upstream), stop);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
        {
            // cirrus-cli keeps a dead session forever; a worker that is told so registers again.
            logger.LogWarning("Cirrus at {Endpoint} refused the session ({Code}: {Detail}); registering again",
                upstream.Endpoint, e.StatusCode, e.Status.Detail);
            upstream.ForgetSession();
            await upstream.RegisterAsync(WorkerInfo(), stop);
            response = await upstream.PollAsync(() => PollRequest(upstream), stop);
        }

        foreach (var id in response.TasksToStop)
        {
            RequestStop(id);
        }
#pragma warning disable CS0612 // old_task_ids_to_stop: older servers send only these.
        foreach (var id in response.OldTaskIdsToStop)
#pragma warning restore CS0612
        {
            RequestStop(id.ToString(CultureInfo.InvariantCulture));
        }
        foreach (var task in response.TasksToStart)
        {
            Take(upstream, task);
        }
        if (response.UpdatedStandbyInstances.Count > 0)
        {
            if (response.UpdatedStandbyInstances.Count > 1)
            {
                logger.LogWarning("Cirrus sent {Count} standby instances; this worker keeps the first", response.UpdatedStandbyInstances.Count);
            }
            if (standby is null)
            {
                logger.LogInformation("Cirrus sent standby parameters; this worker keeps no standby (fleet mode)");
            }
            standby?.Apply(response.UpdatedStandbyInstances[0]);
        }
        return response.Shutdown;
    }

    private PollRequest PollRequest(CirrusUpstreamClient upstream)
    {
        var request = new PollRequest { WorkerInfo = WorkerInfo() };
        var running = Ledger.RunningTaskIdsOf(upstream.Upstream.Identity);
        request.RunningTasks.Add(running);
#pragma warning disable CS0612 // old_running_tasks: the numeric IDs, for servers that read only these.
        request.OldRunningTasks.Add(running.Select(id => long.TryParse(id, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? (long?)n : null)
            .Where(n => n is not null).Select(n => n!.Value));
#pragma warning restore CS0612
        request.ResourcesInUse.Add(Ledger.InUse());
        request.AvailableStandbyInstancesInformation.Add(standby?.Available() ?? []);
        return request;
    }

    private void RequestStop(string taskId)
    {
        if (Ledger.Find(taskId) is { } task)
        {
            logger.LogInformation("Cirrus asked to stop task {TaskId}", taskId);
            task.RequestStop();
        }
    }

    private void Take(CirrusUpstreamClient upstream, PollResponse.Types.AgentAwareTask wire)
    {
        var taskRef = TaskRef.Of(wire);
        var id = taskRef.TaskId;
        if (Ledger.Find(id) is not null)
        {
            logger.LogWarning("Cirrus sent task {TaskId} again while it runs here; ignored", id);
            return;
        }
        var report = new CirrusTaskReport(upstream, taskRef, [wire.ServerSecret, wire.ClientSecret], logger);
        if (_draining)
        {
            logger.LogWarning("Task {TaskId} refused: this worker is shutting down", id);
            Track(RefuseAsync(report, "this Persistent Worker is shutting down and takes no new tasks"));
            return;
        }
        if (IsolationCheck.Refusal(wire.Isolation, config.Security) is { } rule)
        {
            logger.LogWarning("Task {TaskId} refused: {Rule}", id, rule);
            Track(RefuseAsync(report, "this Persistent Worker's security settings refuse the task: " + rule));
            return;
        }
        var admission = Ledger.Admit(id, wire.ResourcesToUse, _modifiers, upstream.Upstream.Identity);
        if (admission.Task is not { } held)
        {
            logger.LogWarning("Task {TaskId} refused: {Reason}", id, admission.Refusal);
            Track(RefuseAsync(report, "this Persistent Worker can't take the task now: " + admission.Refusal));
            return;
        }
        var (version, versionWarning) = AgentVersion.ForTask(wire.CliVersion);
        if (versionWarning is not null)
        {
            logger.LogWarning("Task {TaskId}: {Warning}", id, versionWarning);
        }
        var task = new CirrusTask(
            wire,
            IsolationKinds.Of(wire.Isolation)!.Value,
            new AgentTask(id, wire.ServerSecret, wire.ClientSecret, upstream.Endpoint, config.Name, wire.Traceparent, wire.Tracestate),
            version,
            held,
            upstream.Upstream);
        logger.LogInformation("Took task {TaskId} ({Isolation})", id, task.Isolation.KeyName());
        Track(FollowAsync(report, held, (r, _, ct) => runner.RunAsync(task, r, ct)));
    }

    /// <summary>
    /// Holds again a task an earlier run of this worker took and did not see stop (fleet mode's bridge
    /// restarted): it is counted at once, <paramref name="follow"/> sees it to its end, and it gets
    /// <c>TaskStopped</c> on every path. False when none of the upstreams is <paramref name="endpoint"/> any more.
    /// </summary>
    public bool Adopt(string endpoint, TaskRef task, IReadOnlyList<string> secrets, IReadOnlyDictionary<string, double> resources,
        Func<CirrusTaskReport, TaskLedger.RunningTask, CancellationToken, Task> follow)
    {
        if (upstreams.FirstOrDefault(u => u.Endpoint == endpoint) is not { } upstream ||
            Ledger.Readmit(task.TaskId, resources, upstream.Upstream.Identity) is not { } held)
        {
            return false;
        }
        var report = new CirrusTaskReport(upstream, task, secrets, logger);
        logger.LogInformation("Task {TaskId} taken over from this worker's last run", task.TaskId);
        Track(FollowAsync(report, held, follow));
        return true;
    }

    private async Task FollowAsync(CirrusTaskReport report, TaskLedger.RunningTask held, Func<CirrusTaskReport, TaskLedger.RunningTask, CancellationToken, Task> follow)
    {
        await Task.Yield();
        try
        {
            await follow(report, held, _cancelTasks.Token);
        }
        catch (OperationCanceledException) when (_cancelTasks.IsCancellationRequested || held.StopRequested.IsCancellationRequested)
        {
            // A cancelled task sends no TaskFailed, as in cirrus-cli; TaskStopped follows.
        }
        catch (Exception e)
        {
            await report.FailedAsync(e.Message);
        }
        finally
        {
            await report.StoppedAsync();
            held.Dispose();
        }
    }

    private static async Task RefuseAsync(CirrusTaskReport report, string message)
    {
        await report.FailedAsync(message);
        await report.StoppedAsync();
    }

    private void Track(Task work)
    {
        _inFlight[work] = 0;
        _ = work.ContinueWith(t => _inFlight.TryRemove(t, out _), TaskScheduler.Default);
    }

    private static string Describe(Exception e) => e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
}
