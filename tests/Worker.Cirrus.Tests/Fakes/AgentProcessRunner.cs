using System.Diagnostics;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Session;
using Worker.Cirrus.Tasks;

namespace Worker.Cirrus.Tests.Fakes;

/// <summary>
/// Runs a none-isolation task the way cirrus-cli does, without the job pipeline (which is not wired
/// to the bridge yet): the agent from the cache, started by its launch script in a fresh working
/// directory, SIGINT on cancel and SIGKILL 3 s later. What the pipeline's Cirrus job will do through
/// the local backend; here it lets the session tests run real agent processes.
/// </summary>
public sealed class AgentProcessRunner(AgentBinaries agents, string temporaryRoot) : ICirrusTaskRunner
{
    private int _workingDirectories;

    /// <summary>Working directories that exist right now (each task's "machine").</summary>
    public int LiveMachines => Volatile.Read(ref _workingDirectories);

    public async Task RunAsync(CirrusTask task, CirrusTaskReport report, CancellationToken ct)
    {
        if (task.Isolation != IsolationKind.None)
        {
            throw new NotSupportedException($"this runner runs isolation none only, not {task.Isolation.KeyName()}");
        }
        var agent = await agents.ResolveAsync(task.AgentVersion, HostPlatform.Os, HostPlatform.Arch, ct);
        using var directory = NoneWorkingDirectory.Create(temporaryRoot);
        Interlocked.Increment(ref _workingDirectories);
        try
        {
            using var process = Process.Start(new ProcessStartInfo("bash", ["-c", AgentLaunch.None(task.Agent, agent, directory.Path).ToScript()]))!;
            await report.StartedAsync(ct);
            try
            {
                await process.WaitForExitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                await InterruptAsync(process);
                throw;
            }
            if (process.ExitCode != 0)
            {
                await report.FailedAsync($"the agent exited with code {process.ExitCode}");
            }
        }
        finally
        {
            Interlocked.Decrement(ref _workingDirectories);
        }
    }

    private static async Task InterruptAsync(Process process)
    {
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }
}
