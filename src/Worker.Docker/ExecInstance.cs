using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Logs;

namespace Worker.Docker;

/// <summary>
/// A running container the script is uploaded into (as an archive) and run in by exec, its exit
/// code read back from the exec: a standby a job took, or a job's own container started with
/// <c>WORKER_DOCKER_CMD</c> as its main process (see <see cref="MainProcess"/>). A cancel kills the
/// container (SIGKILL to its main process, which an init can't ignore, and with it every process in it).
/// </summary>
/// <param name="terminal">The script runs on a terminal (<c>WORKER_DOCKER_TTY</c>; see <see cref="ScriptArchive.TerminalExecCommand"/>).</param>
public sealed class ExecInstance(IDockerClient client, Uri endpoint, string containerId, string imageName, ILogger logger, Action? stopped, bool terminal = false)
    : DockerInstance(client, endpoint, containerId, imageName, logger, stopped)
{
    protected override async Task<RunResult> RunInContainerAsync(IJobLogWriter log, CancellationToken ct)
    {
        var exec = await Client.Exec.CreateContainerExecAsync(ContainerId, new ContainerExecCreateParameters
        {
            // Not the engine's terminal: its stdin would not end with the worker, so the watcher would not see it go.
            Cmd = terminal ? ScriptArchive.TerminalExecCommand : ScriptArchive.ExecCommand,
            AttachStdin = true, // held open, never written: its end tells the watcher the worker is gone
            AttachStdout = true,
            AttachStderr = true,
        }, ct);
        var output = new LogWriterStream(log);
        var opening = new OpeningOutput();
        // On a token of its own, as a container's start: a cancel that comes meanwhile kills the container once the exec runs.
        using var starting = new CancellationTokenSource(StartTimeout);
        using (var stream = await Client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), starting.Token))
        {
            await ReadUntilEndAsync(stream, (_, chunk, t) =>
            {
                opening.Add(chunk.Span);
                return output.WriteAsync(chunk, t);
            }, ct);
        }
        return await ExitOfAsync(exec.ID, opening, ct);
    }

    /// <summary>
    /// The first bytes of an exec's output: where the engine says why it could not start the
    /// command, as an exec has no start error of its own.
    /// </summary>
    private sealed class OpeningOutput
    {
        private const int Kept = 1024;
        private readonly byte[] _bytes = new byte[Kept];
        private int _length;

        public void Add(ReadOnlySpan<byte> chunk)
        {
            var take = Math.Min(chunk.Length, Kept - _length);
            chunk[..take].CopyTo(_bytes.AsSpan(_length));
            _length += take;
        }

        public override string ToString() => System.Text.Encoding.UTF8.GetString(_bytes, 0, _length);
    }

    /// <summary>
    /// The script's exit code. The output stream can end a moment before Docker records the code,
    /// so a running exec is asked again briefly. A script killed by a signal in a container that is
    /// no longer running means the machine went away (OOM of the whole container, a kill from outside):
    /// that is not the script's result, and the job is retried. An exec that never had a process
    /// (pid 0) could not start bash: the image has none, and the job is refused.
    /// </summary>
    private async Task<RunResult> ExitOfAsync(string execId, OpeningOutput opening, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            ContainerExecInspectResponse inspect;
            try
            {
                inspect = await Client.Exec.InspectContainerExecAsync(execId, ct);
            }
            catch (DockerApiException e)
            {
                Logger.LogWarning("Container {Id}: the script's exit code can't be read: {Error}", Id, e.Message);
                return RunResult.Incomplete;
            }
            if (!inspect.Running && inspect.ExitCode is { } code)
            {
                if (inspect.Pid == 0 && SaysExecutableNotFound(opening.ToString()))
                {
                    throw NoBash();
                }
                if (code >= 128 && await StoppedSoonAfterAsync(ct))
                {
                    return RunResult.Incomplete;
                }
                return RunResult.Exited((int)code);
            }
            if (attempt >= 400)
            {
                return RunResult.Incomplete;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(5), ct);
        }
    }

    /// <summary>
    /// Whether the container stopped: the exec can report its signal a moment before the engine
    /// marks the container stopped, so a running one is looked at again for half a second.
    /// </summary>
    private async Task<bool> StoppedSoonAfterAsync(CancellationToken ct)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                var container = await Client.Containers.InspectContainerAsync(ContainerId, ct);
                if (container.State?.Running != true)
                {
                    return true;
                }
            }
            catch (DockerContainerNotFoundException)
            {
                return true;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }
        return false;
    }
}
