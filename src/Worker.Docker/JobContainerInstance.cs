using System.Globalization;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Core.Logs;

namespace Worker.Docker;

/// <summary>
/// A container made for the job, created but not started until the script is uploaded: its main
/// process (<see cref="ScriptArchive.RunnerCommand"/>) takes the script on stdin, saves it and runs
/// it, so running it is what <c>docker run -i</c> does (attach, start, write, read to the end) and
/// the exit code arrives on the same stream, with no archive upload, no exec and no wait. When the
/// script ends the container stops, taking anything the script left running.
/// </summary>
/// <param name="stopped">Called once the container is removed (its pinned CPUs are given back then).</param>
public sealed class JobContainerInstance(IDockerClient client, Uri endpoint, string containerId, string imageName, ILogger logger, Action? stopped = null)
    : DockerInstance(client, endpoint, containerId, imageName, logger, stopped)
{
    /// <summary>The exit code line is a few bytes; anything past this on stderr is not ours.</summary>
    private const int TrailerLimit = 256;

    private static readonly byte[] Marker = Encoding.ASCII.GetBytes(ScriptArchive.ReceivedMarker + "\n");

    private readonly StringBuilder _trailer = new();
    private MultiplexedStream? _stream;
    private byte[] _earlyOutput = [];

    /// <summary>
    /// Attaches to the container's stdin and output on one connection, as `docker run -i` does
    /// (before the start, so not a byte is missed), starts the container while writing the script on
    /// its stdin, and waits until the main process says it saved the script: the upload timeout
    /// (<paramref name="ct"/>) guards all of it. Stdin stays open until the container ends; the main
    /// process reads the script's length and no more, then reads /dev/null, so it never waits for
    /// stdin to end. A cancel kills the container at once. Why the main process could not save the
    /// script, if it could not, is in the exception.
    /// </summary>
    public override async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        try
        {
            // One connection, not one for stdin and one for the output: each attach costs the engine
            // a hijacked connection and Docker.DotNet an inspect before it, on the way to the start.
            var stream = _stream = await Client.Containers.AttachContainerAsync(ContainerId,
                new ContainerAttachParameters { Stream = true, Stdin = true, Stdout = true, Stderr = true }, ct);
            // A hijacked stream does not watch the token: closing it ends a write or a read that hangs.
            using var giveUp = ct.Register(static s => ((MultiplexedStream)s!).Dispose(), stream);
            var bytes = ScriptArchive.ForStdin(script);
            // Written while the container starts, as `docker run -i` does: the engine holds the
            // bytes until the main process reads them, so it finds its script at once instead of
            // a round trip after the start's answer. Not awaited before the start: a script larger
            // than the socket's buffers waits for a reader that only the start makes.
            var write = stream.WriteAsync(bytes, 0, bytes.Length, ct);
            try
            {
                await StartAsync();
            }
            catch
            {
                // The write may wait for a reader that will never come: it ends with the stream.
                stream.Dispose();
                await write.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                throw;
            }
            await write;
            await WaitForReceivedAsync(stream, ct);
        }
        catch (Exception e) when (ct.IsCancellationRequested)
        {
            // Started or not, nothing of the script may run on: the job's end is reported next.
            await KillAsync();
            throw e as OperationCanceledException ?? new OperationCanceledException("the script upload was given up", e, ct);
        }
        catch (Exception e) when (DockerFailures.HostLevel(e, Endpoint) is { } hostFailure)
        {
            throw hostFailure;
        }
    }

    /// <summary>Reads until the marker line on stdout; the output after it (the script's first) is kept for the log, stderr for the trailer.</summary>
    private async Task WaitForReceivedAsync(MultiplexedStream stream, CancellationToken ct)
    {
        var stdout = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, ct);
            if (read.EOF)
            {
                throw new InvalidOperationException($"container {Id} ended before it saved the script: {_trailer.ToString().Trim()}");
            }
            if (read.Target != MultiplexedStream.TargetStream.StandardOut)
            {
                _trailer.Append(Encoding.UTF8.GetString(buffer, 0, read.Count));
                continue;
            }
            stdout.Write(buffer, 0, read.Count);
            var seen = stdout.GetBuffer().AsSpan(0, (int)stdout.Length);
            var marker = seen.IndexOf(Marker);
            if (marker >= 0)
            {
                _earlyOutput = seen[(marker + Marker.Length)..].ToArray();
                return;
            }
        }
    }

    protected override async Task<RunResult> RunInContainerAsync(IJobLogWriter log, CancellationToken ct)
    {
        var stream = _stream ?? throw new InvalidOperationException($"container {Id}: the script was not uploaded");
        var output = new LogWriterStream(log);
        using (stream)
        {
            if (_earlyOutput.Length > 0)
            {
                await output.WriteAsync(_earlyOutput, ct);
            }
            await ReadUntilEndAsync(stream, (target, chunk, t) =>
            {
                if (target == MultiplexedStream.TargetStream.StandardOut)
                {
                    return output.WriteAsync(chunk, t);
                }
                _trailer.Append(Encoding.UTF8.GetString(chunk.Span));
                if (_trailer.Length > TrailerLimit)
                {
                    _trailer.Remove(0, _trailer.Length - TrailerLimit);
                }
                return ValueTask.CompletedTask;
            }, ct);
        }
        var lastLine = _trailer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
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
    /// meanwhile closes the stream (the upload then gives up) and the teardown removes the container.
    /// </summary>
    private async Task StartAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            await Client.Containers.StartContainerAsync(ContainerId, new ContainerStartParameters(), timeout.Token);
        }
        catch (DockerApiException e) when (SaysExecutableNotFound(e.ResponseBody ?? ""))
        {
            throw NoBash();
        }
    }

    public override ValueTask DisposeAsync()
    {
        _stream?.Dispose();
        return base.DisposeAsync();
    }
}
