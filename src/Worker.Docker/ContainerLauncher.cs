using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Core.Jobs;

namespace Worker.Docker;

/// <summary>
/// Creates (and for scripts run by exec starts) one container: labelled, limited (CPUs, memory,
/// processes), never privileged unless the spec says so, hardened as far as the operator asks. A
/// job's own container runs its script as the main process, unless <c>WORKER_DOCKER_CMD</c> names
/// one (e.g. <c>/sbin/init</c>): then it is started with that, as a standby is, and the script runs in
/// it by exec. A standby's main process is that command too, else <c>sleep infinity</c>. A container
/// whose start fails is removed before this throws, so a failed start leaves nothing behind.
/// </summary>
public sealed class ContainerLauncher(IDockerClient client, DockerOptions options, ILogger logger)
{
    /// <summary>Label of a standby container: a digest of everything that shapes it, so only a like one is taken over.</summary>
    public const string SpecLabel = "worker-standby-spec";

    private static readonly TimeSpan RemoveTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan InfoTimeout = TimeSpan.FromSeconds(30);

    private readonly object _cpuSetsGate = new();
    private readonly DockerImagePulls _pulls = new(client, logger, options.RefreshSilenceLimit,
        options.StateDirectory is { } state ? Path.Combine(state, SupersededImages.FileName) : null);
    // Images whose containers could not run travis-worker's default main command (WORKER_DOCKER_CMD
    // not set, the settings in its form): its default is kept for the images that have it, and
    // these run as if it were none. A command the operator set is never left out: it refuses the job.
    private readonly ConcurrentDictionary<string, bool> _withoutDefaultMainCommand = new();
    private Task<CpuSets?>? _cpuSets;

    /// <summary>The engine's endpoint, named when it can't be reached.</summary>
    public Uri Endpoint => options.EndpointUri;

    /// <summary>The creates this launcher stopped waiting for, followed until their containers are confirmed gone.</summary>
    public UnansweredCreates Unanswered { get; } = new(client, logger);

    /// <summary>
    /// Creates a job's own container, not started: its main process is <see cref="ScriptArchive.RunnerCommand"/>,
    /// which takes the script on its stdin (open to the one who attaches to it, closed when they leave)
    /// and saves it in the container's <see cref="ScriptArchive.RunnerTmpfs"/>.
    /// </summary>
    /// <param name="imageRefreshed">The caller has just refreshed the image (<see cref="RefreshImageAsync"/>): no second pull.</param>
    public async Task<CreatedContainer> CreateJobContainerAsync(ContainerSpec spec, IReadOnlyDictionary<string, string> labels, string name,
        IProgress<string>? progress, bool imageRefreshed, CancellationToken ct)
    {
        var pinned = await PinAsync(spec, ct);
        try
        {
            var mainProcess = options.ScriptOnTerminal ? ScriptArchive.TerminalRunnerCommand : ScriptArchive.RunnerCommand;
            var parameters = Parameters(spec, labels, name, mainProcess, pinned, runner: true);
            parameters.OpenStdin = true;
            parameters.StdinOnce = true;
            parameters.AttachStdin = true;
            return new CreatedContainer(await CreateAsync(parameters, spec, progress, imageRefreshed, ct), pinned);
        }
        catch
        {
            pinned?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Under <c>WORKER_DOCKER_PULL=always</c>, pulls an image this host has again (see
    /// <see cref="DockerImagePulls.RefreshAsync"/>) and says which image its name now gives; else
    /// nothing, and null.
    /// </summary>
    public async Task<string?> RefreshImageAsync(string image, IProgress<string>? progress, CancellationToken ct) =>
        options.PullPolicy == ImagePullPolicy.Always ? await _pulls.RefreshAsync(image, progress, ct) : null;

    /// <summary>The images pulls under <c>WORKER_DOCKER_PULL=always</c> took their names from; call its <c>RemoveUnused</c> once a container of this worker is removed.</summary>
    public SupersededImages SupersededImages => _pulls.Superseded;

    /// <summary>Creates the container, pulling its image first as WORKER_DOCKER_PULL says; it is not started.</summary>
    private async Task<string> CreateAsync(CreateContainerParameters parameters, ContainerSpec spec, IProgress<string>? progress, bool imageRefreshed,
        CancellationToken ct)
    {
        if (!imageRefreshed)
        {
            await RefreshImageAsync(spec.Image, progress, ct);
        }
        try
        {
            return (await CreateAsync(parameters)).ID;
        }
        catch (DockerImageNotFoundException) when (options.PullPolicy != ImagePullPolicy.Never)
        {
            progress?.Report($"Pulling image {spec.Image}.");
            await _pulls.PullAsync(spec.Image, ct);
            try
            {
                return (await CreateAsync(parameters)).ID;
            }
            catch (DockerImageNotFoundException)
            {
                throw new JobRefusedException($"image '{spec.Image}' was pulled but the engine can't find it (a platform this host can't run?)");
            }
        }
        catch (DockerImageNotFoundException)
        {
            throw new JobRefusedException($"image '{spec.Image}' is not on this host and WORKER_DOCKER_PULL is never");
        }
    }

    /// <summary>
    /// Whether a job's own container of the image is started with <c>WORKER_DOCKER_CMD</c> and runs its
    /// script by exec (see <see cref="LaunchForExecAsync"/>): not for an image found without
    /// travis-worker's default command, which runs its script as the main process, as <c>none</c> would.
    /// </summary>
    public bool RunsScriptsByExec(string image) => options.MainCommand.Count > 0 && !_withoutDefaultMainCommand.ContainsKey(image);

    /// <summary>Whether scripts run on a terminal (<c>WORKER_DOCKER_TTY</c>).</summary>
    public bool ScriptsOnTerminal => options.ScriptOnTerminal;

    /// <summary>
    /// Creates and starts a container whose main process is <c>WORKER_DOCKER_CMD</c> (else <c>sleep
    /// infinity</c>), where a script is then run by exec: a standby, or a job's own container when that
    /// setting is set. Nothing of what that command starts is waited for: the engine's answer to the
    /// start means its process is running, not that an init system has brought its services up. An
    /// image that can't run the command refuses the job, naming the image and the setting; unless the
    /// command is travis-worker's default, not set by the operator: then the container is kept alive
    /// by <c>sleep</c>, and the image's later jobs run their script as the main process.
    /// </summary>
    /// <param name="imageRefreshed">The caller has just refreshed the image (<see cref="RefreshImageAsync"/>): no second pull.</param>
    public async Task<CreatedContainer> LaunchForExecAsync(ContainerSpec spec, IReadOnlyDictionary<string, string> labels, string name,
        IProgress<string>? progress, bool imageRefreshed, CancellationToken ct)
    {
        try
        {
            return await LaunchForExecAsync(spec, labels, name, MainProcessOf(spec.Image), progress, imageRefreshed, ct);
        }
        catch (DefaultMainCommandMissingException)
        {
            // travis-worker's default, which the operator did not ask for: the image can still run its
            // jobs, kept alive by sleep here and as its runner next time.
            if (_withoutDefaultMainCommand.TryAdd(spec.Image, true))
            {
                logger.LogWarning("Image {Image} can't run {Command}, travis-worker's default main process (the settings are in its form): its jobs run " +
                    "with the script as their main process, as {Setting} runs them", spec.Image, options.MainCommand[0],
                    $"{SettingsSource.Prefix}{DockerOptions.Command.Key}={DockerOptions.NoMainCommand}");
            }
            progress?.Report($"Image {spec.Image} has no {options.MainCommand[0]} (travis-worker's default main process): the script runs without it.");
            // Its first create pulled the image already.
            return await LaunchForExecAsync(spec, labels, name, MainProcessOf(spec.Image), progress, imageRefreshed: true, ct);
        }
    }

    /// <summary>The image can't run travis-worker's default main command, which the operator did not set.</summary>
    private sealed class DefaultMainCommandMissingException : Exception;

    /// <summary>The main process of a container of the image whose script runs by exec.</summary>
    private IList<string> MainProcessOf(string image) =>
        _withoutDefaultMainCommand.ContainsKey(image) ? MainProcess.KeepAlive : MainProcess.Of(options);

    private async Task<CreatedContainer> LaunchForExecAsync(ContainerSpec spec, IReadOnlyDictionary<string, string> labels, string name,
        IList<string> mainProcess, IProgress<string>? progress, bool imageRefreshed, CancellationToken ct)
    {
        var pinned = await PinAsync(spec, ct);
        string id;
        try
        {
            id = await CreateAsync(Parameters(spec, labels, name, mainProcess, pinned), spec, progress, imageRefreshed, ct);
        }
        catch
        {
            pinned?.Dispose();
            throw;
        }
        try
        {
            ct.ThrowIfCancellationRequested();
            await client.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct);
            return new CreatedContainer(id, pinned);
        }
        catch (Exception e)
        {
            logger.LogWarning("Container {Name} did not start ({Error}); removing it", name, e.Message);
            await RemoveQuietlyAsync(client, id, logger);
            pinned?.Dispose();
            if (mainProcess != MainProcess.KeepAlive && MainProcess.Refusal(options, e, spec.Image) is { } refusal)
            {
                throw options.MainCommandVariable is null ? new DefaultMainCommandMissingException() : refusal;
            }
            throw;
        }
    }

    /// <summary>
    /// The CPUs a container of the spec is pinned to (see <see cref="CpuSets"/>), or null. The engine
    /// is asked for its CPU count once; should it not answer, this container is not pinned and the
    /// next one asks again.
    /// </summary>
    private async Task<CpuSetLease?> PinAsync(ContainerSpec spec, CancellationToken ct)
    {
        if (spec.Cpus <= 0 || options.CpusToPinWithin == 0)
        {
            return null;
        }
        return (await CpuSetsAsync(ct))?.Take(spec.Cpus);
    }

    /// <summary>
    /// Counts the CPUs a container made by another worker is pinned to (<c>HostConfig.CpusetCpus</c>),
    /// once it is this worker's (a standby taken over), so new containers go to other CPUs; null when
    /// it is not pinned, or this worker pins nothing.
    /// </summary>
    public async Task<CpuSetLease?> CountPinnedAsync(string? cpusetCpus, CancellationToken ct) =>
        string.IsNullOrEmpty(cpusetCpus) || options.CpusToPinWithin == 0 ? null : (await CpuSetsAsync(ct))?.Hold(cpusetCpus);

    /// <summary>How many of this worker's containers are pinned to each CPU; null before the first is pinned. For tests.</summary>
    internal IReadOnlyList<int>? PinnedCpuUsers()
    {
        lock (_cpuSetsGate)
        {
            return _cpuSets is { IsCompletedSuccessfully: true } sets ? sets.Result?.Users() : null;
        }
    }

    /// <summary>This worker's count of pinned CPUs; null while the engine has not said how many it has (asked again next time).</summary>
    private async Task<CpuSets?> CpuSetsAsync(CancellationToken ct)
    {
        Task<CpuSets?> sets;
        lock (_cpuSetsGate)
        {
            sets = _cpuSets ??= EngineCpuSetsAsync();
        }
        var found = await sets.WaitAsync(ct);
        if (found is null)
        {
            lock (_cpuSetsGate)
            {
                if (_cpuSets == sets)
                {
                    _cpuSets = null; // the next container asks again
                }
            }
        }
        return found;
    }

    private async Task<CpuSets?> EngineCpuSetsAsync()
    {
        if (options.CpusToPinWithin is { } size)
        {
            return new CpuSets(size);
        }
        try
        {
            using var timeout = new CancellationTokenSource(InfoTimeout);
            var info = await client.System.GetSystemInfoAsync(timeout.Token);
            return new CpuSets((int)info.NCPU);
        }
        catch (Exception e)
        {
            logger.LogWarning("The Docker engine did not say how many CPUs it has ({Error}); this container is not pinned to CPUs, the next one asks again", e.Message);
            return null;
        }
    }

    /// <summary>A short digest of the container a spec and the operator's settings make.</summary>
    public string Fingerprint(ContainerSpec spec)
    {
        var shape = string.Join('\n', spec.Image, spec.Cpus.ToString(CultureInfo.InvariantCulture), spec.Memory.ToString(CultureInfo.InvariantCulture),
            string.Join(',', spec.Volumes.Select(v => v.ToBind())), spec.Privileged ? "privileged" : "",
            string.Join(',', options.OperatorVolumes), string.Join(',', options.TmpfsMounts), options.NetworkName ?? "",
            string.Join(' ', SecurityOptions), string.Join(',', options.DroppedCapabilities),
            options.MaxProcesses.ToString(CultureInfo.InvariantCulture),
            options.ShmBytes.ToString(CultureInfo.InvariantCulture), spec.User ?? "", string.Join(' ', MainProcess.Of(options)),
            string.Join(' ', options.ProxyEnvironment));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(shape)))[..16];
    }

    /// <summary>
    /// Creates without the caller's token, and without cutting the request: a create given up half-way
    /// can still land in the engine. After <see cref="DockerOptions.CreateTimeout"/> the caller stops
    /// waiting, and a create not answered then, or whose answer was lost on the way, is followed
    /// (<see cref="UnansweredCreates"/>) until its container is confirmed gone.
    /// </summary>
    private async Task<CreateContainerResponse> CreateAsync(CreateContainerParameters parameters)
    {
        var name = parameters.Name ?? throw new ArgumentException("a container to create needs a name, to be found by should its answer be lost", nameof(parameters));
        var create = client.Containers.CreateContainerAsync(parameters, CancellationToken.None);
        try
        {
            return await create.WaitAsync(options.CreateTimeout);
        }
        catch (TimeoutException e)
        {
            Unanswered.Follow(create, name);
            throw NoAnswer(name, $"within {Durations.Format(options.CreateTimeout)}", e);
        }
        catch (Exception e) when (e is not DockerApiException && DockerFailures.HostLevel(e, Endpoint) is null)
        {
            // The request went out (an engine that can't be reached is a host failure, where nothing was sent) and its answer was lost.
            Unanswered.Follow(create, name);
            throw NoAnswer(name, $"({e.Message})", e);
        }
    }

    private TimeoutException NoAnswer(string name, string why, Exception e) =>
        new($"the Docker engine at {DockerFailures.Display(Endpoint)} did not answer the create of container {name} {why}; " +
            "should it make the container after all, it is removed", e);

    /// <summary>Kills and removes a container on a fresh token; one that is already gone is fine.</summary>
    public static async Task RemoveQuietlyAsync(IDockerClient client, string id, ILogger logger)
    {
        try
        {
            await RemoveWithinLimitAsync(client, id);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Could not remove container {Id}; the cleanup sidecar will", id);
        }
    }

    /// <summary><see cref="RemoveAsync"/> on a token of its own, which gives up after the removal's time limit.</summary>
    public static async Task RemoveWithinLimitAsync(IDockerClient client, string id)
    {
        using var timeout = new CancellationTokenSource(RemoveTimeout);
        await RemoveAsync(client, id, timeout.Token);
    }

    /// <summary>Kills and removes a container with its anonymous volumes; one that is already gone or going is fine.</summary>
    public static async Task RemoveAsync(IDockerClient client, string id, CancellationToken ct)
    {
        try
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, ct);
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict && (e.ResponseBody ?? "").Contains("already in progress", StringComparison.Ordinal))
        {
        }
    }

    private CreateContainerParameters Parameters(ContainerSpec spec, IReadOnlyDictionary<string, string> labels, string name, IList<string> command,
        CpuSetLease? pinned, bool runner = false)
    {
        var tmpfs = options.TmpfsMounts.ToDictionary(Before(':'), After(':'));
        if (runner)
        {
            tmpfs[ScriptArchive.RunnerTmpfs.Key] = ScriptArchive.RunnerTmpfs.Value;
        }
        var host = new HostConfig
        {
            Privileged = spec.Privileged,
            Binds = [.. options.OperatorVolumes.Select(Bind), .. spec.Volumes.Select(v => v.ToBind())],
            ShmSize = options.ShmBytes,
            Tmpfs = tmpfs,
            // Without a restart policy a crashed container stays down; the job is then incomplete and requeued.
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            SecurityOpt = [.. SecurityOptions],
            CapDrop = [.. options.DroppedCapabilities],
        };
        if (options.MaxProcesses > 0)
        {
            host.PidsLimit = options.MaxProcesses;
        }
        if (spec.Cpus > 0)
        {
            host.NanoCPUs = (long)(spec.Cpus * 1e9);
            host.CpusetCpus = pinned?.Cpus ?? "";
        }
        if (spec.Memory > 0)
        {
            host.Memory = spec.Memory;
            host.MemorySwap = spec.Memory; // no swap on top: the limit is the limit
        }
        if (!string.IsNullOrEmpty(options.NetworkName))
        {
            host.NetworkMode = options.NetworkName;
        }
        return new CreateContainerParameters
        {
            Name = name,
            Image = spec.Image,
            Entrypoint = command,
            Cmd = [],
            // The operator's labels can't be this worker's own (worker-*; checked at start-up).
            Labels = new Dictionary<string, string>(labels.Concat(options.ExtraLabels)),
            Env = ["LANG=C.UTF-8", .. options.ProxyEnvironment, .. LoginNames(spec.User)],
            User = spec.User ?? "", // empty: the image's own
            HostConfig = host,
        };
    }

    /// <summary>
    /// USER and LOGNAME for a user given by name, as a login (travis-worker's SSH session) set them:
    /// scripts use them (<c>sudo chown $USER</c>). The engine sets only HOME; for a user given by id, or
    /// the image's own, the script's launcher looks the name up in the container (see <see cref="ScriptArchive"/>).
    /// </summary>
    private static IEnumerable<string> LoginNames(string? user) =>
        user?.Split(':')[0] is { Length: > 0 } name && !name.All(char.IsAsciiDigit) ? [$"USER={name}", $"LOGNAME={name}"] : [];

    /// <summary>The operator's security options, with no-new-privileges when WORKER_DOCKER_NO_NEW_PRIVILEGES asks for it.</summary>
    private IEnumerable<string> SecurityOptions =>
        options.ForbidNewPrivileges ? [.. options.SecurityOptions, "no-new-privileges:true"] : options.SecurityOptions;

    private static string Bind(string volume) =>
        VolumeRequest.TryParseOperatorBind(volume, out var v) ? v.ToBind() : throw new InvalidOperationException($"bad operator volume {volume}");

    private static Func<string, string> Before(char c) => s => s.Split(c, 2)[0];

    private static Func<string, string> After(char c) => s => s.Contains(c) ? s.Split(c, 2)[1].Replace(';', ',') : "";
}
