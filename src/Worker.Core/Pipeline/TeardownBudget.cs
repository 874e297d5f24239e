namespace Worker.Core.Pipeline;

/// <summary>
/// The timeouts of a job's teardown steps (close the log, report, delete the machine): each gets
/// <c>WORKER_TEARDOWN_TIMEOUT</c>, and when the worker is being stopped, all of them together end
/// within <see cref="ShutdownBudget.TeardownLimit"/>, so the worker exits before it is killed.
/// </summary>
internal sealed class TeardownBudget(TimeSpan perStep, TimeSpan? whole) : IDisposable
{
    private readonly CancellationTokenSource? _whole = whole is { } limit ? new CancellationTokenSource(limit) : null;

    /// <summary>A token source for one step; the caller disposes it.</summary>
    public CancellationTokenSource Step()
    {
        var step = _whole is null ? new CancellationTokenSource() : CancellationTokenSource.CreateLinkedTokenSource(_whole.Token);
        step.CancelAfter(perStep);
        return step;
    }

    public void Dispose() => _whole?.Dispose();
}
