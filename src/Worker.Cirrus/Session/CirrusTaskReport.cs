using Microsoft.Extensions.Logging;

namespace Worker.Cirrus.Session;

/// <summary>
/// What Cirrus hears about one task, each at most once and in order: <c>TaskStarted</c> when the
/// task is taken (fleet mode: when a host started it), <c>TaskFailed(message)</c> when the machine or the agent fails, and <c>TaskStopped</c>
/// exactly once at the end, on every path. The secrets of the task never reach a message.
/// A report Cirrus can't be told (after the retries) is logged; the task goes on.
/// </summary>
public sealed class CirrusTaskReport(CirrusUpstreamClient upstream, TaskRef task, IReadOnlyList<string> secrets, ILogger logger)
{
    /// <summary>How long the final reports may take (cirrus-cli: 15 s per call; here with retries while the server is away).</summary>
    public static readonly TimeSpan FinalReportBudget = TimeSpan.FromMinutes(5);

    private int _started;
    private int _failed;
    private int _stopped;

    public TaskRef Task { get; } = task;

    public bool WasStarted => Volatile.Read(ref _started) != 0;

    public string? FailureMessage { get; private set; }

    public bool WasStopped => Volatile.Read(ref _stopped) != 0;

    public async Task StartedAsync(CancellationToken ct)
    {
        if (WasStopped || Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }
        await ReportAsync("TaskStarted", t => upstream.TaskStartedAsync(Task, t), ct);
    }

    /// <summary>The first failure is reported; later ones (a teardown error after a failed agent) only logged.</summary>
    public async Task FailedAsync(string message, CancellationToken ct = default)
    {
        var masked = Mask(message);
        if (WasStopped || Interlocked.Exchange(ref _failed, 1) != 0)
        {
            logger.LogWarning("Task {TaskId}: also failed: {Message}", Task.TaskId, masked);
            return;
        }
        FailureMessage = masked;
        using var budget = Budget(ct);
        await ReportAsync("TaskFailed", t => upstream.TaskFailedAsync(Task, masked, t), budget.Token);
    }

    /// <summary>Sent once; later calls do nothing. Runs on its own budget, not the task's token, so a cancelled task still says it stopped.</summary>
    public async Task StoppedAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        using var budget = Budget(CancellationToken.None);
        await ReportAsync("TaskStopped", t => upstream.TaskStoppedAsync(Task, t), budget.Token);
    }

    private static CancellationTokenSource Budget(CancellationToken ct)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(FinalReportBudget);
        return cts;
    }

    private string Mask(string message)
    {
        foreach (var secret in secrets.Where(s => s.Length > 0))
        {
            message = message.Replace(secret, "[secure]", StringComparison.Ordinal);
        }
        return message;
    }

    private async Task ReportAsync(string what, Func<CancellationToken, Task> call, CancellationToken ct)
    {
        try
        {
            await call(ct);
        }
        catch (Exception e)
        {
            logger.LogError("Task {TaskId}: could not tell Cirrus {What}: {Error}", Task.TaskId, what, Mask(e.Message));
        }
    }
}
