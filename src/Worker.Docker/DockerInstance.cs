using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Core.Logs;

namespace Worker.Docker;

/// <summary>
/// One job's container, never reused: the script is uploaded, run with its output
/// streamed live, and the container removed afterwards. How the script runs depends on how the
/// container was made: see <see cref="JobContainerInstance"/> and <see cref="ExecInstance"/>.
/// </summary>
public abstract class DockerInstance : IInstance
{
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long the engine may take to start a container or exec, which is not cut short by a cancel (see the instances).</summary>
    protected static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Action? _stopped;
    private Task? _removing;

    /// <param name="stopped">Called once the container is removed (a standby pool starts the next one then).</param>
    protected DockerInstance(IDockerClient client, Uri endpoint, string containerId, string imageName, ILogger logger, Action? stopped)
    {
        Client = client;
        Endpoint = endpoint;
        ContainerId = containerId;
        ImageName = imageName;
        Logger = logger;
        _stopped = stopped;
    }

    public string ContainerId { get; }

    public string Id => ContainerId[..Math.Min(12, ContainerId.Length)];

    public string ImageName { get; }

    protected IDockerClient Client { get; }

    /// <summary>The engine's endpoint, named when it can't be reached.</summary>
    protected Uri Endpoint { get; }

    protected ILogger Logger { get; }

    /// <summary>
    /// The engine could not start bash, which runs the job's script: the image's doing, and the same
    /// on every host, so the job is not tried again elsewhere.
    /// </summary>
    protected JobRefusedException NoBash() => new($"image '{ImageName}' has no bash, which runs the job's script");

    /// <summary>Whether the engine's message says the command it was to start is not in the image.</summary>
    protected static bool SaysExecutableNotFound(string engineMessage) =>
        engineMessage.Contains("executable file not found", StringComparison.Ordinal);

    /// <summary>Uploads the script as an archive into the running container (one whose main process takes it on stdin overrides this).</summary>
    public virtual async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        using var archive = ScriptArchive.Create(script);
        try
        {
            await Client.Containers.ExtractArchiveToContainerAsync(ContainerId,
                new CopyToContainerParameters { Path = ScriptArchive.ExtractTo }, archive, ct);
        }
        catch (Exception e) when (DockerFailures.HostLevel(e, Endpoint) is { } hostFailure)
        {
            throw hostFailure;
        }
    }

    public async Task UploadFileAsync(string path, Stream content, UnixFileMode mode, CancellationToken ct)
    {
        using var archive = await FileArchive.CreateAsync(path, content, mode, ct);
        try
        {
            await Client.Containers.ExtractArchiveToContainerAsync(ContainerId,
                new CopyToContainerParameters { Path = FileArchive.ExtractTo }, archive, ct);
        }
        catch (Exception e) when (DockerFailures.HostLevel(e, Endpoint) is { } hostFailure)
        {
            throw hostFailure;
        }
    }

    public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
    {
        try
        {
            var result = await RunInContainerAsync(log, ct);
            // Nothing runs in a container after its script, so its removal starts now and overlaps
            // reporting the result, as `docker run --rm` leaves it to the engine while the CLI reads
            // the output; StopAsync waits for it.
            _removing = ContainerLauncher.RemoveWithinLimitAsync(Client, ContainerId);
            return result;
        }
        catch (Exception e) when (!ct.IsCancellationRequested && DockerFailures.HostLevel(e, Endpoint) is { } hostFailure)
        {
            throw hostFailure;
        }
    }

    /// <summary>Runs the uploaded script as <see cref="IInstance.RunScriptAsync"/> says.</summary>
    protected abstract Task<RunResult> RunInContainerAsync(IJobLogWriter log, CancellationToken ct);

    public async Task StopAsync(CancellationToken ct)
    {
        try
        {
            if (_removing is { } removing)
            {
                try
                {
                    await removing.WaitAsync(ct);
                    return;
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    Logger.LogDebug("Container {Id}: removal after the script: {Error}; removing again", Id, e.Message);
                }
            }
            await ContainerLauncher.RemoveAsync(Client, ContainerId, ct);
        }
        finally
        {
            _stopped?.Invoke();
        }
    }

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Kills the container, ending the script and everything it started at once; already dead or gone is fine.</summary>
    protected async Task KillAsync()
    {
        using var timeout = new CancellationTokenSource(KillTimeout);
        try
        {
            await Client.Containers.KillContainerAsync(ContainerId, new ContainerKillParameters { Signal = "SIGKILL" }, timeout.Token);
        }
        catch (Exception e)
        {
            // Anything else is removed at teardown anyway.
            Logger.LogDebug("Container {Id}: kill: {Error}", Id, e.Message);
        }
    }

    /// <summary>
    /// Reads <paramref name="stream"/> to its end, handing each chunk to <paramref name="onOutput"/>;
    /// on <paramref name="ct"/> the container is killed and the read given up.
    /// </summary>
    protected async Task ReadUntilEndAsync(MultiplexedStream stream, Func<MultiplexedStream.TargetStream, ReadOnlyMemory<byte>, CancellationToken, ValueTask> onOutput,
        CancellationToken ct)
    {
        Task? killing = null;
        try
        {
            using var kill = ct.Register(() => killing ??= KillAsync());
            var buffer = new byte[16 * 1024];
            while (true)
            {
                var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, ct);
                if (read.EOF)
                {
                    break;
                }
                await onOutput(read.Target, buffer.AsMemory(0, read.Count), ct);
            }
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
        }
        if (ct.IsCancellationRequested)
        {
            await (killing ?? KillAsync());
            throw new OperationCanceledException(ct);
        }
    }
}
