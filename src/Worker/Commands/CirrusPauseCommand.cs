using Microsoft.Extensions.Logging;
using Worker.Cirrus.Config;
using Worker.Cirrus.Session;
using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Commands;

/// <summary>
/// <c>worker cirrus pause [--wait]</c> and <c>resume</c>, as cirrus-cli's: <c>UpdateStatus</c> to every
/// upstream from a process that never registered; with <c>--wait</c>, then <c>QueryRunningTasks</c>
/// until no task runs on the worker.
/// </summary>
public static class CirrusPauseCommand
{
    /// <summary>How often <c>--wait</c> asks.</summary>
    public static readonly TimeSpan WaitInterval = TimeSpan.FromSeconds(1);

    public static async Task<int> RunAsync(SettingsSource settings, string? file, CirrusFlags flags, bool disabled, bool wait)
    {
        var (config, effective) = CirrusParts.Load(settings, file, flags);
        using var context = WorkerContext.Create(effective);
        await using var parts = CirrusParts.Create(context, config);
        var logger = context.LoggerFactory.CreateLogger("cirrus");
        foreach (var upstream in parts.Upstreams)
        {
            await CirrusPause.SetDisabledAsync(upstream, disabled, CancellationToken.None);
            logger.LogInformation("Worker {Name} {State} at {Endpoint}", config.Name, disabled ? "paused" : "resumed", upstream.Endpoint);
        }
        if (wait)
        {
            foreach (var upstream in parts.Upstreams)
            {
                await CirrusPause.WaitUntilIdleAsync(upstream, WaitInterval, CancellationToken.None);
            }
            logger.LogInformation("No task runs on worker {Name}", config.Name);
        }
        return 0;
    }
}
