using System.Globalization;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Logs;

namespace Worker.Docker;

/// <summary>
/// A container made for the job, created but not started until the script runs: its main process
/// is the script (<see cref="ScriptArchive.RunnerCommand"/>), so running it is what <c>docker run</c>
/// does (attach, start, read to the end) and the exit code arrives on the same stream, with no exec
/// and no wait. When the script ends the container stops, taking anything the script left running.
/// </summary>
public sealed class JobContainerInstance(IDockerClient client, Uri endpoint, string containerId, string imageName, ILogger logger)
    : DockerInstance(client, endpoint, containerId, imageName, logger, stopped: null)
{
    /// <summary>The exit code line is a few bytes; anything past this on stderr is not ours.</summary>
    private const int TrailerLimit = 64;

    protected override async Task<RunResult> RunInContainerAsync(IJobLogWriter log, CancellationToken ct)
    {
        var output = new LogWriterStream(log);
        var trailer = new StringBuilder();
        // Attached before it starts, so not a byte of output is missed.
        using (var stream = await Client.Containers.AttachContainerAsync(ContainerId,
                   new ContainerAttachParameters { Stream = true, Stdout = true, Stderr = true }, ct))
        {
            await StartAsync();
            await ReadUntilEndAsync(stream, (target, chunk, t) =>
            {
                if (target == MultiplexedStream.TargetStream.StandardOut)
                {
                    return output.WriteAsync(chunk, t);
                }
                trailer.Append(Encoding.UTF8.GetString(chunk.Span));
                if (trailer.Length > TrailerLimit)
                {
                    trailer.Remove(0, trailer.Length - TrailerLimit);
                }
                return ValueTask.CompletedTask;
            }, ct);
        }
        var lastLine = trailer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (int.TryParse(lastLine, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            return RunResult.Exited(code);
        }
        Logger.LogWarning("Container {Id} stopped before the script's exit code was written: killed from outside or out of memory", Id);
        return RunResult.Incomplete;
    }

    /// <summary>
    /// Starts the container on a token of its own: a start given up half-way may still happen in the
    /// engine, and the script would run unseen. Once the engine has answered, a cancel that came
    /// meanwhile kills the container (the read that follows sees the cancel at once).
    /// </summary>
    private async Task StartAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        await Client.Containers.StartContainerAsync(ContainerId, new ContainerStartParameters(), timeout.Token);
    }
}
