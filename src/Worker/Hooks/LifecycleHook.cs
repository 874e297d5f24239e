using System.Text;
using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Processes;

namespace Worker.Hooks;

/// <summary>
/// One of <c>worker run</c>'s hooks (<see cref="LifecycleHookOptions"/>): the command is split at
/// spaces and run without a shell, as travis-worker ran it, and waited for. Its failure is logged
/// with its output and never stops the worker, as there; unlike there, a hook that hangs is stopped
/// (with what it started) after <see cref="Limit"/>, so it can't keep a host from ever taking jobs
/// or from exiting.
/// </summary>
public sealed class LifecycleHook(string name, string? command, ILogger logger)
{
    public static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    /// <summary>For tests: a shorter limit.</summary>
    internal TimeSpan TimeLimit { get; init; } = Limit;

    public async Task RunAsync()
    {
        var parts = command?.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        if (parts.Length == 0)
        {
            return;
        }
        logger.LogInformation("Running the {Hook}: {Command}", name, command);
        var run = await BoundedProcess.RunAsync(parts[0], parts[1..], stdin: [], TimeLimit, CancellationToken.None);
        var output = (Encoding.UTF8.GetString(run.Stdout) + run.Stderr).Trim();
        if (run.CouldNotStart is { } error)
        {
            logger.LogError("The {Hook} could not be run ({Command}): {Error}", name, command, error);
        }
        else if (run.RanPastLimit)
        {
            logger.LogError("The {Hook} ran past {Limit} and was stopped ({Command})", name, Durations.Format(TimeLimit), command);
        }
        else if (run.ExitCode != 0)
        {
            logger.LogError("The {Hook} failed with exit code {ExitCode} ({Command}): {Output}", name, run.ExitCode, command, output);
        }
        else
        {
            logger.LogDebug("The {Hook} ran: {Output}", name, output);
        }
    }
}
