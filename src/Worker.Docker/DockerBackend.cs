using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Images;

namespace Worker.Docker;

/// <summary>
/// One new container per job, never reused. A job that names no image gets the one its image selector
/// chooses (by default the host's image tagged for its language, as travis-worker chose: <see cref="LanguageImages"/>), else the default.
/// The operator's policy is checked first, so a refused job creates nothing; a job that asks for exactly what a standby is takes one, any other gets a
/// fresh container, created here and started when its script runs (as <c>docker run</c> does), or, when <c>WORKER_DOCKER_CMD</c>
/// names a main process (e.g. <c>/sbin/init</c>), created and started here with it, as a standby is, and the script run in it by exec.
/// </summary>
public sealed class DockerBackend : IBackend
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(30);

    private readonly IDockerClient _client;
    private readonly bool _ownsClient;
    private readonly ContainerLauncher _launcher;

    /// <summary>What makes this backend's containers; for tests.</summary>
    internal ContainerLauncher Launcher => _launcher;
    private readonly IImageSelector _imageSelector;
    private readonly ILogger _logger;

    public DockerBackend(IDockerClient client, DockerOptions options, MachineLabels labels, ILogger<DockerBackend> logger, bool ownsClient = false)
    {
        _client = client;
        _ownsClient = ownsClient;
        _logger = logger;
        Options = options;
        Policy = new DockerPolicy(options);
        _launcher = new ContainerLauncher(client, options, logger);
        // Those a worker here superseded before it stopped, and which a container still used then.
        _launcher.SupersededImages.RemoveUnused();
        _ = EngineKnownFaults.WarnAsync(client, logger);
        _imageSelector = options.ImageSelector.Create(options.ImageMappings, logger, () => new LanguageImages(client, TimeProvider.System));
        if (options.StandbyCount > 0)
        {
            Standby = new DockerStandbyPool(client, _launcher, Policy.Default, labels, options.StandbyCount, options.StandbyLeaseTime, logger);
            Standby.Replenish();
        }
    }

    public string Name => "docker";

    /// <summary>The passwords of the proxy URLs every container gets (WORKER_DOCKER_HTTP_PROXY...), as written and decoded.</summary>
    public IReadOnlyList<string> MachineSecrets => Options.ProxyPasswords;

    public DockerOptions Options { get; }

    public DockerPolicy Policy { get; }

    /// <summary>The standby containers, when <c>WORKER_DOCKER_STANDBY</c> is above 0.</summary>
    public DockerStandbyPool? Standby { get; }

    public string ProbeDescription => $"a ping of the Docker engine at {DockerFailures.Display(Options.EndpointUri)} and a look at the network its jobs join";

    /// <summary>
    /// A ping, then the network the jobs join (WORKER_DOCKER_NETWORK, else the default bridge): a ping
    /// alone is answered by an engine whose network controller is deadlocked (Docker 20.10's libnetwork,
    /// moby/moby#46661), where every create hangs; and a network that is missing fails every job too.
    /// </summary>
    public async Task ProbeAsync(CancellationToken ct)
    {
        try
        {
            await _client.System.PingAsync(ct);
            // "default" and "container:NAME" are modes, not networks one can inspect.
            if (Options.NetworkName is { Length: > 0 } network && network != "default" && !network.StartsWith("container:", StringComparison.Ordinal))
            {
                await _client.Networks.InspectNetworkAsync(network, ct);
            }
            else
            {
                await _client.Networks.ListNetworksAsync(new NetworksListParameters
                {
                    Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { ["bridge"] = true } },
                }, ct);
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            throw DockerFailures.HostLevel(e, Options.EndpointUri)
                ?? BackendFailureException.Host($"the Docker engine at {DockerFailures.Display(Options.EndpointUri)} does not answer a ping: {e.Message}", e);
        }
    }

    public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        try
        {
            return await StartContainerAsync(attributes, progress, ct);
        }
        catch (Exception e) when (DockerFailures.HostLevel(e, Options.EndpointUri) is { } hostFailure)
        {
            throw hostFailure;
        }
    }

    private async Task<IInstance> StartContainerAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        var spec = await ContainerSpecForAsync(attributes, ct);
        var standbyShaped = Standby is not null && spec.IsStandbyShaped(Standby.Spec);
        // Under pull always the image is pulled before a standby is taken, so that no job gets one
        // made before its image's name moved; a fresh container then makes no second pull.
        var imageRefreshed = standbyShaped && Options.PullPolicy == ImagePullPolicy.Always;
        var imageId = imageRefreshed ? await _launcher.RefreshImageAsync(spec.Image, progress, ct) : null;
        var standby = standbyShaped ? await Standby!.TryClaimAsync(attributes, imageId, ct) : null;
        if (Standby is not null)
        {
            Core.Telemetry.WorkerMetrics.StandbyClaim(Name, hit: standby is not null);
        }
        if (standby is not null)
        {
            progress.Report($"Using standby container {standby.Id} ({spec.Image}).");
            return standby;
        }
        var name = $"worker-job-{attributes.JobId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}";
        progress.Report($"Creating container {name} ({spec.Image}).");
        if (_launcher.RunsScriptsByExec(spec.Image))
        {
            progress.Report($"Its main process: {string.Join(' ', Options.MainCommand)}; the script runs in it by exec.");
            var started = await _launcher.LaunchForExecAsync(spec, attributes.Labels, name, progress, imageRefreshed, ct);
            return new ExecInstance(_client, Options.EndpointUri, started.Id, spec.Image, _logger, stopped: WhenRemoved(started),
                terminal: Options.ScriptOnTerminal);
        }
        var created = await _launcher.CreateJobContainerAsync(spec, attributes.Labels, name, progress, imageRefreshed, ct);
        if (ct.IsCancellationRequested)
        {
            // The create ran to its end on purpose (see ContainerLauncher); the caller gave up meanwhile.
            await ContainerLauncher.RemoveQuietlyAsync(_client, created.Id, _logger);
            created.Pinned?.Dispose();
            ct.ThrowIfCancellationRequested();
        }
        return new JobContainerInstance(_client, Options.EndpointUri, created.Id, spec.Image, _logger, stopped: WhenRemoved(created));
    }

    /// <summary>What follows the removal of a job's container: its CPUs go back, and an image a pull superseded may go now.</summary>
    private Action WhenRemoved(CreatedContainer container) => () =>
    {
        container.Pinned?.Dispose();
        _launcher.SupersededImages.RemoveUnused();
    };

    /// <summary>The container the job gets: its own image or the one its image selector chooses, under the operator's policy.</summary>
    internal async Task<ContainerSpec> ContainerSpecForAsync(StartAttributes attributes, CancellationToken ct)
    {
        var selected = string.IsNullOrWhiteSpace(attributes.Image) ? await _imageSelector.SelectAsync(SelectionQuery(attributes), ct) : null;
        return Policy.Decide(attributes, selected);
    }

    /// <summary>
    /// What the selector is asked: travis-worker's Docker backend chose by the language alone, so the
    /// same env mappings and job-board tags choose the same image here (a job's dist, group and os don't).
    /// </summary>
    private ImageQuery SelectionQuery(StartAttributes job) => new(Name, job.JobId) { Repository = job.RepositorySlug, Language = job.Language };

    public async ValueTask DisposeAsync()
    {
        if (Standby is not null)
        {
            await Standby.DisposeAsync();
        }
        if (_launcher.Unanswered.Count > 0)
        {
            _logger.LogInformation("Following {Count} container create(s) the engine did not answer, for up to {Wait}", _launcher.Unanswered.Count, CloseWait);
        }
        await _launcher.Unanswered.CloseAsync(CloseWait);
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }
}
