using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Logs;

namespace Worker.Docker;

/// <summary>One job's container: the script is uploaded as an archive, run by exec with its output streamed live, and the container removed afterwards.</summary>
public sealed class DockerInstance : IInstance
{
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);
    private readonly IDockerClient _client;
    private readonly ILogger _logger;
    private readonly Action? _stopped;

    /// <param name="stopped">Called once the container is removed (a standby pool starts the next one then).</param>
    public DockerInstance(IDockerClient client, string containerId, string imageName, bool fromStandby, ILogger logger, Action? stopped = null)
    {
        _client = client;
        ContainerId = containerId;
        ImageName = imageName;
        FromStandby = fromStandby;
        _logger = logger;
        _stopped = stopped;
    }

    public string ContainerId { get; }

    public string Id => ContainerId[..Math.Min(12, ContainerId.Length)];

    public string ImageName { get; }

    /// <summary>Whether the container was a standby the job took, rather than started for it.</summary>
    public bool FromStandby { get; }

    public async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        using var archive = ScriptArchive.Create(script);
        await _client.Containers.ExtractArchiveToContainerAsync(ContainerId,
            new CopyToContainerParameters { Path = ScriptArchive.ExtractTo }, archive, ct);
    }

    public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
    {
        var exec = await _client.Exec.CreateContainerExecAsync(ContainerId, new ContainerExecCreateParameters
        {
            // One stream, so stdout and stderr keep their order in the log.
            Cmd = ["bash", "-c", $"exec bash {ScriptArchive.ScriptPath} 2>&1"],
            AttachStdout = true,
            AttachStderr = true,
        }, ct);

        Task? killing = null;
        try
        {
            using var stream = await _client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), ct);
            // Killing the container ends the script and everything it started, at once.
            using var kill = ct.Register(() => killing ??= KillAsync());
            await CopyOutputAsync(stream, new LogWriterStream(log), ct);
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
        }
        if (ct.IsCancellationRequested)
        {
            await (killing ?? KillAsync());
            throw new OperationCanceledException(ct);
        }
        return await ExitOfAsync(exec.ID, ct);
    }

    public async Task StopAsync(CancellationToken ct)
    {
        try
        {
            await ContainerLauncher.RemoveAsync(_client, ContainerId, ct);
        }
        finally
        {
            _stopped?.Invoke();
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static async Task CopyOutputAsync(MultiplexedStream stream, Stream output, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, ct);
            if (read.EOF)
            {
                return;
            }
            await output.WriteAsync(buffer.AsMemory(0, read.Count), ct);
        }
    }

    /// <summary>
    /// The script's exit code. The output stream can end a moment before Docker records the code,
    /// so a running exec is asked again briefly. A script killed by a signal in a container that is
    /// no longer running means the machine went away (OOM of the whole container, a kill from outside):
    /// that is not the script's result, and the job is retried.
    /// </summary>
    private async Task<RunResult> ExitOfAsync(string execId, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            ContainerExecInspectResponse inspect;
            try
            {
                inspect = await _client.Exec.InspectContainerExecAsync(execId, ct);
            }
            catch (DockerApiException e)
            {
                _logger.LogWarning("Container {Id}: the script's exit code can't be read: {Error}", Id, e.Message);
                return RunResult.Incomplete;
            }
            if (!inspect.Running && inspect.ExitCode is { } code)
            {
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
                var container = await _client.Containers.InspectContainerAsync(ContainerId, ct);
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

    private async Task KillAsync()
    {
        using var timeout = new CancellationTokenSource(KillTimeout);
        try
        {
            await _client.Containers.KillContainerAsync(ContainerId, new ContainerKillParameters { Signal = "SIGKILL" }, timeout.Token);
        }
        catch (Exception e)
        {
            // Already dead or gone is what we wanted; anything else is removed at teardown anyway.
            _logger.LogDebug("Container {Id}: kill: {Error}", Id, e.Message);
        }
    }
}
