using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Worker.Cirrus.Jobs;
using Worker.Cirrus.Security;
using Worker.Cirrus.Session;
using Worker.Cirrus.Tasks;
using Worker.Core.Jobs;

namespace Worker.Cirrus.Fleet;

/// <summary>
/// Fleet mode's runner: each task the bridge takes goes on the AMQP job queue for any <c>worker run</c>
/// host, and what the hosts report about its job becomes what Cirrus hears: <c>started</c> →
/// <c>TaskStarted</c>; <c>failed</c>/<c>errored</c> → <c>TaskFailed</c>; any finish →
/// <c>TaskStopped</c>, and only then does the ledger stop counting it. <c>tasks_to_stop</c> becomes
/// <c>cancel_job</c>, sent again each time a host reports the job until it finished (a job still
/// queued when the stop came is cancelled once a host has it). Every step is in
/// <see cref="ForwardedTasks"/> first, so a restarted bridge picks each task up where it was.
/// </summary>
public sealed class FleetTaskRunner(FleetQueue queue, ForwardedTasks forwarded, SecurityPolicy security, ILogger logger, TimeProvider? clock = null)
    : ICirrusTaskRunner
{
    private const string StopSignal = "";

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<long, Channel<string>> _watches = new();
    private readonly TaskCompletionSource _never = new();
    private volatile bool _abandoned;

    /// <summary>
    /// The bridge stops while tasks run on the fleet: they stay in <see cref="ForwardedTasks"/> for its
    /// next start, and none ends here (an end would tell Cirrus it stopped).
    /// </summary>
    public void Abandon() => _abandoned = true;

    public async Task RunAsync(CirrusTask task, CirrusTaskReport report, CancellationToken ct)
    {
        var order = CirrusJobOrder.Of(task, security);
        var entry = new ForwardedTask(task.Id, order.JobId, task.Upstream.Endpoint, order.Agent.ClientSecret, order.Agent.ServerSecret,
            new Dictionary<string, double>(task.Held.Resources), FleetPayload.For(order, _clock.GetUtcNow()).ToJson());
        forwarded.Put(entry);
        await FollowAsync(entry, report, task.Held, ct);
    }

    /// <summary>
    /// Queues the task's job unless it was, then turns what the hosts report into what Cirrus hears,
    /// until the job finished and Cirrus heard <c>TaskStopped</c>. A restarted bridge calls it for each
    /// task the previous run left.
    /// </summary>
    public async Task FollowAsync(ForwardedTask entry, CirrusTaskReport report, TaskLedger.RunningTask held, CancellationToken ct)
    {
        var states = Channel.CreateUnbounded<string>();
        // Before the job is queued, so not even its first state can be missed.
        _watches[entry.JobId] = states;
        try
        {
            // A finish that came before the watch was there is in the file.
            entry = forwarded.Find(entry.TaskId) ?? entry;
            if (!entry.Queued)
            {
                await queue.QueueJobAsync(JobPayload.Parse(entry.Payload), ct);
                entry = Update(entry, e => e with { Queued = true });
                logger.LogInformation("Task {TaskId} queued as job {JobId}", entry.TaskId, entry.JobId);
            }
            await using var stop = held.StopRequested.Register(() => states.Writer.TryWrite(StopSignal));
            if (entry.StopRequested)
            {
                await CancelAsync(entry, ct);
            }
            var final = entry.FinalState;
            while (final is null)
            {
                var state = await states.Reader.ReadAsync(ct);
                if (FinishStates.FromWireName(state) is not null)
                {
                    final = state;
                }
                else if (state == StopSignal)
                {
                    entry = Update(entry, e => e with { StopRequested = true });
                    await CancelAsync(entry, ct);
                }
                else if (entry.StopRequested)
                {
                    // A host took the job after the stop was sent (it was still queued then).
                    await CancelAsync(entry, ct);
                }
                else if (state == "started" && !entry.Started)
                {
                    await report.StartedAsync(ct);
                    entry = Update(entry, e => e with { Started = true });
                }
            }
            if (FinishStates.FromWireName(final) is FinishState.Failed or FinishState.Errored)
            {
                await report.FailedAsync(final == "failed"
                    ? "the agent exited with code 1"
                    : $"the task's job {entry.JobId} errored on a worker host; its log on reporting.jobs.logs says why");
            }
            await report.StoppedAsync();
            forwarded.Remove(entry.TaskId);
        }
        catch (Exception) when (_abandoned)
        {
            await _never.Task;
        }
        finally
        {
            _watches.TryRemove(entry.JobId, out _);
        }
    }

    /// <summary>One state update from a host: a finish is written down before it is acked, so it is never lost to a restart.</summary>
    public Task OnStateAsync(long jobId, string state)
    {
        if (forwarded.All.FirstOrDefault(t => t.JobId == jobId) is not { } entry)
        {
            return Task.CompletedTask; // not a task of this bridge, or one already reported stopped
        }
        if (FinishStates.FromWireName(state) is not null)
        {
            Update(entry, e => e with { FinalState = state });
        }
        if (_watches.TryGetValue(jobId, out var states))
        {
            states.Writer.TryWrite(state);
        }
        return Task.CompletedTask;
    }

    private async Task CancelAsync(ForwardedTask entry, CancellationToken ct)
    {
        logger.LogInformation("Task {TaskId}: cancelling job {JobId} on the fleet", entry.TaskId, entry.JobId);
        await queue.CancelJobAsync(entry.JobId, "Cirrus asked to stop the task", ct);
    }

    private ForwardedTask Update(ForwardedTask entry, Func<ForwardedTask, ForwardedTask> change) => forwarded.Update(entry.TaskId, change) ?? entry;
}
