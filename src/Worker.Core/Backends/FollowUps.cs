using System.Collections.Concurrent;

namespace Worker.Core.Backends;

/// <summary>
/// Work a backend goes on doing after the call that started it has returned, such as following a
/// machine whose creation or deletion went wrong until it is confirmed gone. Each piece is bounded by
/// its own limit; closing (the backend's dispose) waits for them for a while, then cancels what is
/// left, which each piece logs as given up.
/// </summary>
public sealed class FollowUps
{
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private readonly CancellationTokenSource _closing = new();

    public int Count => _running.Count;

    /// <summary>Fires when closing gives up on what is still running.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Runs <paramref name="work"/> in the background with a token that fires after <paramref name="limit"/>, or when closing gives up. It logs its own failures.</summary>
    public void Start(Func<CancellationToken, Task> work, TimeSpan limit)
    {
        var running = RunAsync(work, limit);
        _running[running] = true;
        _ = running.ContinueWith(t => _running.TryRemove(t, out _), TaskScheduler.Default);
    }

    /// <summary>Waits for the work, at most <paramref name="most"/>, then cancels what is left and waits for it to stop.</summary>
    public async Task CloseAsync(TimeSpan most)
    {
        var all = Task.WhenAll(_running.Keys);
        if (await Task.WhenAny(all, Task.Delay(most)) != all)
        {
            await _closing.CancelAsync();
            await all;
        }
    }

    private async Task RunAsync(Func<CancellationToken, Task> work, TimeSpan limit)
    {
        await Task.Yield();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        bounded.CancelAfter(limit);
        try
        {
            await work(bounded.Token);
        }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested)
        {
        }
    }
}
