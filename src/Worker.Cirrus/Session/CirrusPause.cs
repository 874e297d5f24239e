using Grpc.Core;
using Worker.Cirrus.Api;

namespace Worker.Cirrus.Session;

/// <summary>
/// <c>cirrus worker pause [--wait]</c> and <c>resume</c>: <c>UpdateStatus</c> from a process that
/// never registered (its session token is empty), then, with <c>--wait</c>, <c>QueryRunningTasks</c>
/// until Cirrus knows of no task running on the worker.
/// </summary>
public static class CirrusPause
{
    public static async Task SetDisabledAsync(CirrusUpstreamClient upstream, bool disabled, CancellationToken ct)
    {
        var status = await upstream.UpdateStatusAsync(disabled, ct);
        // NotFound (a worker Cirrus does not know yet) is ignored, as cirrus-cli ignores it.
        if (status is not null && status.Disabled != disabled)
        {
            throw new InvalidOperationException(
                $"Cirrus at {upstream.Endpoint} did not take the status: asked disabled={disabled.ToString().ToLowerInvariant()}, got {status.Disabled.ToString().ToLowerInvariant()}");
        }
    }

    /// <summary>
    /// Disables the worker unless Cirrus has it disabled already (an operator's pause, which the drain
    /// must not take for its own); true when this call disabled it. A status Cirrus does not tell
    /// (<c>QueryRunningTasks</c> refused, or its answer without one) counts as enabled.
    /// </summary>
    public static async Task<bool> DisableUnlessDisabledAsync(CirrusUpstreamClient upstream, CancellationToken ct)
    {
        try
        {
            if ((await upstream.QueryRunningTasksAsync(ct)).Status is { Disabled: true })
            {
                return false;
            }
        }
        catch (RpcException) when (!ct.IsCancellationRequested)
        {
            // Not known: disabling it and marking it so is what keeps a rolling update from leaving it paused.
        }
        await SetDisabledAsync(upstream, disabled: true, ct);
        return true;
    }

    /// <summary>Returns once a <c>QueryRunningTasks</c> answer lists no task, asking every <paramref name="interval"/>.</summary>
    public static async Task WaitUntilIdleAsync(CirrusUpstreamClient upstream, TimeSpan interval, CancellationToken ct)
    {
        while (true)
        {
            var running = await upstream.QueryRunningTasksAsync(ct);
            if (IsIdle(running))
            {
                return;
            }
            await Task.Delay(interval, ct);
        }
    }

    private static bool IsIdle(QueryRunningTasksResponse running)
    {
#pragma warning disable CS0612 // old_running_tasks: older servers fill only these.
        return running.RunningTasks.Count == 0 && running.OldRunningTasks.Count == 0;
#pragma warning restore CS0612
    }
}
