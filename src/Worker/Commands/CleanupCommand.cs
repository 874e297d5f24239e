using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Worker.Composition;
using Worker.Core.Cleanup;
using Worker.Core.Configuration;

namespace Worker.Commands;

/// <summary>
/// <c>worker cleanup [--once] [--dry-run]</c>: the orphan-cleanup sidecar for the backend named by
/// <c>WORKER_PROVIDER_NAME</c>. Every <c>WORKER_CLEANUP_INTERVAL</c> it deletes this fleet's machines
/// that no live job can own, with one log line per machine saying what it decided and why.
/// </summary>
public static class CleanupCommand
{
    public const int PassFailedExitCode = 1;

    public static Command Create()
    {
        var once = new Option<bool>("--once") { Description = "Run one pass and exit (exit code 1 when the pass failed)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Decide and log as usual, but delete nothing." };
        var command = new Command("cleanup", "Delete machines that crashed or scaled-in workers left behind (the cleanup sidecar).") { once, dryRun };
        command.SetAction((result, _) => CommandErrors.GuardAsync(() =>
            RunAsync(SettingsSource.FromEnvironment(), result.GetValue(once), result.GetValue(dryRun))));
        return command;
    }

    public static async Task<int> RunAsync(SettingsSource settings, bool once, bool dryRun, ILoggerFactory? loggers = null)
    {
        using var context = WorkerContext.Create(settings, loggers);
        var logger = context.LoggerFactory.CreateLogger("cleanup");
        var options = CleanupOptions.Load(settings) with { NeverStartedAfter = 2 * (context.Options.Startup + context.Options.Upload) };
        using var inventory = Backends.ForCleanup(settings).CreateInventory!(context.Services);
        var reaper = new OrphanReaper(inventory.Machines, inventory.Hosts, context.Options.Fleet, options, context.LoggerFactory.CreateLogger<OrphanReaper>());
        logger.LogInformation("Cleanup of fleet {Fleet} on {Backend}{DryRun}: {Mode}", context.Options.Fleet, inventory.Machines.Backend,
            dryRun ? " (dry run: nothing is deleted)" : "", once ? "one pass" : $"a pass every {Durations.Format(options.Interval)}");
        if (once)
        {
            try
            {
                var decisions = await reaper.RunOnceAsync(dryRun, CancellationToken.None);
                logger.LogInformation("Pass done: {Machines} machine(s), {Orphans} orphan(s)", decisions.Count, decisions.Count(d => d.Delete));
                return 0;
            }
            catch (Exception e) when (e is not InvalidSettingException)
            {
                logger.LogError("Cleanup pass failed: {Error}", e.Message);
                logger.LogDebug(e, "Cleanup pass failure");
                return PassFailedExitCode;
            }
        }

        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext signal)
        {
            signal.Cancel = true;
            logger.LogInformation("{Signal}: stopping after the current step", signal.Signal);
            stop.Cancel();
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        await reaper.RunAsync(dryRun, stop.Token);
        return 0;
    }
}
