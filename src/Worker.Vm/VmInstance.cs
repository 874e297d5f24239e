using System.Text;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Logs;
using Worker.Core.Scripts;
using Worker.Ssh;

namespace Worker.Vm;

/// <summary>
/// One job's VM: the script goes up over SFTP and runs over SSH with live output (on a terminal in
/// a Linux guest; macOS has no util-linux <c>script</c>). A VM whose <c>run</c> process ends while the
/// job uses it is gone: the script's run stops at once and the job is requeued with one line saying
/// why (<see cref="VmStoppedException"/>). Stop destroys the VM (<see cref="VmMachine.DestroyAsync"/>).
/// </summary>
public sealed class VmInstance(VmMachine machine, ILogger logger) : IInstance
{
    private const string ScriptName = "build.sh";

    // A connection that breaks a moment before run reports the VM's end is the VM's end.
    private static readonly TimeSpan RunExitGrace = TimeSpan.FromSeconds(2);

    private static readonly SshUploadOptions Upload = new() { Attempts = 3, RetryPause = TimeSpan.FromSeconds(1), RefuseExisting = true };

    public string Id => machine.Name;

    public string ImageName => machine.Spec.Image;

    public VmMachine Machine => machine;

    /// <summary>What the tool said once the VM booted (Tart: <c>get --format json</c>'s <c>OS</c>; vetu's guests are Linux).</summary>
    public string? GuestOs => machine.GuestOs;

    public async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        try
        {
            await machine.Ssh.UploadAsync(ScriptName, Encoding.UTF8.GetBytes(script), Upload, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException && machine.Run is { HasExited: true } run)
        {
            throw new VmStoppedException($"VM {Id} stopped before the script could be uploaded ({run.Describe()})", e);
        }
    }

    /// <summary>Over SFTP: its directory made first, its mode set after (SFTP writes 0644).</summary>
    public async Task UploadFileAsync(string path, Stream content, UnixFileMode mode, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, ct);
        var directory = Path.GetDirectoryName(path) ?? "/";
        await CheckedAsync($"mkdir -p {ShellQuoting.Quote(directory)}", ct);
        try
        {
            await machine.Ssh.UploadAsync(path, buffer.GetBuffer().AsMemory(0, (int)buffer.Length), Upload with { RefuseExisting = false }, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException && machine.Run is { HasExited: true } run)
        {
            throw new VmStoppedException($"VM {Id} stopped before {path} could be uploaded ({run.Describe()})", e);
        }
        await CheckedAsync($"chmod {Convert.ToString((int)mode, 8)} {ShellQuoting.Quote(path)}", ct);
    }

    private async Task CheckedAsync(string command, CancellationToken ct)
    {
        var result = await machine.Ssh.RunCommandAsync(command, ct);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"VM {Id}: {command} failed: {result.Error.Trim()}");
        }
    }

    public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
    {
        var run = machine.Run ?? throw new InvalidOperationException($"VM {Id} never ran");
        var script = new RemoteScript(ScriptName) { Pty = machine.GuestOs == Vm.GuestOs.Linux };
        using var untilStopped = CancellationTokenSource.CreateLinkedTokenSource(ct, run.ExitedToken);
        SshRunResult result;
        try
        {
            result = await machine.Ssh.RunScriptAsync(script, log, untilStopped.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && run.HasExited)
        {
            throw Stopped(run);
        }
        if (result.ExitCode is { } code)
        {
            return RunResult.Exited(code);
        }
        await Task.WhenAny(run.Exited, Task.Delay(RunExitGrace, CancellationToken.None));
        if (run.HasExited)
        {
            throw Stopped(run);
        }
        logger.LogWarning("VM {Vm}: {Reason}", Id, result.LostReason);
        throw new VmStoppedException($"the connection to VM {Id} broke while the script ran ({result.LostReason})");
    }

    public Task StopAsync(CancellationToken ct) => machine.DestroyAsync(ct);

    /// <summary>Closes the SSH session; the VM itself goes with <see cref="StopAsync"/>, which the pipeline calls on every path.</summary>
    public ValueTask DisposeAsync() => machine.Ssh.DisposeAsync();

    private VmStoppedException Stopped(VmRunProcess run) =>
        new($"VM {Id} stopped while the script ran ({run.Describe()})");
}
