using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;

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
        var start = new ProcessStartInfo(parts[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in parts[1..])
        {
            start.ArgumentList.Add(argument);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            logger.LogError("The {Hook} could not be run ({Command}): {Error}", name, command, e.Message);
            return;
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var overrun = new CancellationTokenSource(TimeLimit);
            try
            {
                await process.WaitForExitAsync(overrun.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                logger.LogError("The {Hook} ran past {Limit} and was stopped ({Command})", name, Durations.Format(TimeLimit), command);
                return;
            }
            var output = ((await stdout) + (await stderr)).Trim();
            if (process.ExitCode != 0)
            {
                logger.LogError("The {Hook} failed with exit code {ExitCode} ({Command}): {Output}", name, process.ExitCode, command, output);
            }
            else
            {
                logger.LogDebug("The {Hook} ran: {Output}", name, output);
            }
        }
    }
}
