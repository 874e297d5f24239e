using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;

namespace Worker.Core.Pipeline;

/// <summary>
/// A job's teardown under one budget (<c>WORKER_TEARDOWN_TIMEOUT</c>) that starts when the teardown
/// does. A step that acquires something pushes what undoes it (the machine: stop and release it);
/// once the script is over the pipeline runs its closing steps in order (close the log, report the
/// result), then unwinds the stack in reverse. Each step gets what the ones before it left of the
/// budget. A step that overruns is abandoned at the deadline and a failing one is logged, so those
/// after it still run: the budget bounds the whole teardown, not each step.
/// </summary>
public sealed class CleanupStack(TimeSpan budget, TimeProvider clock, ILogger logger) : IDisposable
{
    private readonly Stack<(string What, Func<CancellationToken, Task> Cleanup)> _cleanups = new();
    private CancellationTokenSource? _deadline;

    /// <summary>Steps abandoned because the budget was spent.</summary>
    public int Abandoned { get; private set; }

    /// <summary>Shortens the budget before the teardown begins (a worker being stopped has less time); null leaves it.</summary>
    public void CapAt(TimeSpan? limit)
    {
        if (_deadline is null && limit is { } cap && cap < budget)
        {
            budget = cap;
        }
    }

    /// <summary>Registers what undoes something a step just acquired.</summary>
    public void Push(string what, Func<CancellationToken, Task> cleanup) => _cleanups.Push((what, cleanup));

    /// <summary>Runs one closing step now, within what is left of the budget (which starts with the first step).</summary>
    /// <returns>Whether the step completed.</returns>
    public async Task<bool> RunAsync(string what, Func<CancellationToken, Task> step)
    {
        _deadline ??= new CancellationTokenSource(budget, clock);
        var token = _deadline.Token;
        try
        {
            // WaitAsync: a step that ignores its token must not hold the teardown past the budget.
            await step(token).WaitAsync(token);
            return true;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            Abandoned++;
            logger.LogError("Teardown: gave up on {What}: the teardown budget (WORKER_TEARDOWN_TIMEOUT={Budget}) is spent", what, Durations.Format(budget));
        }
        catch (Exception e)
        {
            logger.LogError(e, "Teardown: could not {What}", what);
        }
        return false;
    }

    /// <summary>Runs the pushed cleanups, last pushed first.</summary>
    public async Task UnwindAsync()
    {
        while (_cleanups.TryPop(out var cleanup))
        {
            await RunAsync(cleanup.What, cleanup.Cleanup);
        }
    }

    public void Dispose() => _deadline?.Dispose();
}
