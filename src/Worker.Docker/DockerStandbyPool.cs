using System.Collections.Concurrent;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;

namespace Worker.Docker;

/// <summary>
/// Keeps <c>WORKER_DOCKER_STANDBY</c> started containers of the default image ready, labelled
/// <c>worker-standby=true</c>. A job takes one by renaming it (<see cref="StandbyClaim"/>), and another is started behind it: once the job's container is removed, or a few seconds
/// after the hand-over if the job runs longer, so the new start doesn't compete with the job's own
/// first seconds on the engine. A standby that vanished (deleted by cleanup, crashed)
/// is skipped; a failing start backs off instead of spinning, and never blocks a job, which then
/// gets a fresh container. Whatever is still idle is removed when the backend is disposed (every
/// command disposes its backend on the way out, also after a failure). Idle
/// standbys that a crashed predecessor on this host left behind, made to the same settings (their
/// <c>worker-standby-spec</c> label), are taken over instead of started anew; a claim renames by the
/// standby name, so should two workers on one host take over the same one, the second claim finds
/// it gone and moves on.
/// </summary>
public sealed class DockerStandbyPool : IAsyncDisposable
{
    /// <summary>How long an idle standby may live before the cleanup sidecar may take it for an orphan.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(24);

    private static readonly TimeSpan FailureBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReplenishDelay = TimeSpan.FromSeconds(5);
    private const string NamePrefix = "worker-standby-";

    private readonly IDockerClient _client;
    private readonly ContainerLauncher _launcher;
    private readonly ContainerSpec _spec;
    private readonly MachineLabels _labels;
    private readonly int _size;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<(string Id, string Name)> _ready = new();
    private readonly ConcurrentDictionary<Task, bool> _launching = new();
    private readonly object _gate = new();
    private int _pending;
    private DateTimeOffset _lastFailure = DateTimeOffset.MinValue;
    private bool _adoptionStarted;
    private volatile bool _closed;

    public DockerStandbyPool(IDockerClient client, ContainerLauncher launcher, ContainerSpec spec, MachineLabels labels, int size, ILogger logger)
    {
        _client = client;
        _launcher = launcher;
        _spec = spec;
        _labels = labels;
        _size = size;
        _logger = logger;
    }

    public ContainerSpec Spec => _spec;

    /// <summary>Ids of the started standby containers not yet taken.</summary>
    public IReadOnlyCollection<string> Ready => _ready.Select(c => c.Id).ToArray();

    /// <summary>Starts containers in the background until <c>N</c> are ready or starting.</summary>
    public void Replenish()
    {
        lock (_gate)
        {
            if (_closed || DateTimeOffset.UtcNow - _lastFailure < FailureBackoff)
            {
                return;
            }
            if (!_adoptionStarted)
            {
                _adoptionStarted = true;
                _pending++;
                Track(AdoptLeftoversAsync());
                return;
            }
            while (_ready.Count + _pending < _size)
            {
                _pending++;
                Track(LaunchOneAsync());
            }
        }
    }

    private void Track(Task task)
    {
        _launching[task] = true;
        _ = task.ContinueWith(t => _launching.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task AdoptLeftoversAsync()
    {
        await Task.Yield();
        try
        {
            var fingerprint = _launcher.Fingerprint(_spec);
            var running = await _client.Containers.ListContainersAsync(new ContainersListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>>
                {
                    ["label"] = new Dictionary<string, bool>
                    {
                        [$"{MachineLabels.Fleet}={_labels.FleetName}"] = true,
                        [$"{MachineLabels.Host}={_labels.WorkerHost}"] = true,
                        [$"{MachineLabels.Standby}=true"] = true,
                        [$"{ContainerLauncher.SpecLabel}={fingerprint}"] = true,
                    },
                },
            }, CancellationToken.None);
            foreach (var c in running.Where(c => c.Names?.FirstOrDefault()?.TrimStart('/').StartsWith(NamePrefix, StringComparison.Ordinal) == true).Take(_size))
            {
                _ready.Enqueue((c.ID, c.Names![0].TrimStart('/')));
                _logger.LogInformation("Took over idle standby container {Id} left by an earlier worker on this host", c.ID[..12]);
            }
        }
        catch (Exception e)
        {
            _logger.LogWarning("Could not look for idle standby containers left on this host: {Error}", e.Message);
        }
        finally
        {
            lock (_gate)
            {
                _pending--;
            }
        }
        Replenish();
    }

    /// <summary>Replenishes and waits until the pool is full (or a start failed). For warm-up, tests and benchmarks.</summary>
    public async Task FillAsync(CancellationToken ct)
    {
        Replenish();
        while (!_closed && _ready.Count < _size && (_pending > 0 || DateTimeOffset.UtcNow - _lastFailure >= FailureBackoff))
        {
            await Task.WhenAny(Task.WhenAll(_launching.Keys), Task.Delay(Timeout.Infinite, ct));
            ct.ThrowIfCancellationRequested();
            Replenish();
        }
    }

    /// <summary>Takes a ready standby for the job and names it after it, or null when none is ready.</summary>
    public async Task<StandbyInstance?> TryClaimAsync(StartAttributes job, CancellationToken ct)
    {
        while (_ready.TryDequeue(out var standby))
        {
            var id = standby.Id;
            var deadline = job.Labels.TryGetValue(MachineLabels.Deadline, out var d) &&
                           long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                ? seconds
                : (DateTimeOffset.UtcNow + job.HardTimeout + _labels.DeadlineMargin).ToUnixTimeSeconds();
            var name = StandbyClaim.Name(job.JobId, deadline, id[..12]);
            try
            {
                // By its standby name, not its id: a second claimer (another worker that took it over) then finds no such container.
                await _client.Containers.RenameContainerAsync(standby.Name, new ContainerRenameParameters { NewName = name }, ct);
                _ = Task.Delay(ReplenishDelay, CancellationToken.None).ContinueWith(_ => Replenish(), TaskScheduler.Default);
                return new StandbyInstance(_client, _launcher.Endpoint, id, _spec.Image, _logger, stopped: Replenish);
            }
            catch (DockerApiException e) when (!ct.IsCancellationRequested)
            {
                _logger.LogWarning("Standby container {Id} can't be taken ({Error}); trying the next", id[..12], e.Message);
                await ContainerLauncher.RemoveQuietlyAsync(_client, id, _logger);
            }
            catch (OperationCanceledException)
            {
                // Renamed or not, this container is no longer a clean standby.
                await ContainerLauncher.RemoveQuietlyAsync(_client, id, _logger);
                Replenish();
                throw;
            }
        }
        Replenish();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        _closed = true;
        try
        {
            await Task.WhenAll(_launching.Keys);
        }
        catch (Exception)
        {
            // Failed starts were logged and removed by the launcher.
        }
        var removals = new List<Task>();
        while (_ready.TryDequeue(out var standby))
        {
            removals.Add(ContainerLauncher.RemoveQuietlyAsync(_client, standby.Id, _logger));
        }
        await Task.WhenAll(removals);
    }

    private async Task LaunchOneAsync()
    {
        await Task.Yield();
        try
        {
            var name = NamePrefix + Guid.NewGuid().ToString("N")[..12];
            var id = await _launcher.LaunchIdleAsync(_spec, Labels(), name, CancellationToken.None);
            if (_closed)
            {
                await ContainerLauncher.RemoveQuietlyAsync(_client, id, _logger);
                return;
            }
            _ready.Enqueue((id, name));
            _logger.LogDebug("Standby container {Id} is ready", id[..12]);
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _lastFailure = DateTimeOffset.UtcNow;
            }
            _logger.LogError(e, "A standby container could not be started; jobs get fresh containers, trying again in {Backoff}", FailureBackoff);
        }
        finally
        {
            lock (_gate)
            {
                _pending--;
            }
        }
    }

    private Dictionary<string, string> Labels()
    {
        var labels = _labels.For(0, IdleLifetime - _labels.DeadlineMargin).ToDictionary();
        labels.Remove(MachineLabels.JobId);
        labels[MachineLabels.Standby] = "true";
        labels[ContainerLauncher.SpecLabel] = _launcher.Fingerprint(_spec);
        return labels;
    }
}
