using System.Collections.Concurrent;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;

namespace Worker.Docker;

/// <summary>
/// Keeps <c>WORKER_DOCKER_STANDBY</c> started containers of the default image ready, labelled
/// <c>worker-standby=true</c>. A job takes one by renaming it (<see cref="StandbyClaim"/>), and another
/// is started behind it: once the job's container is removed, or a few seconds after the hand-over if
/// the job runs longer, so the new start doesn't compete with the job's own first seconds on the
/// engine. A failing start backs off instead of spinning, and never blocks a job, which then gets a
/// fresh container. Whatever is still idle is removed when the backend is disposed (every command
/// disposes its backend on the way out, also after a failure).
/// <para>
/// Each idle standby is this worker's only while its lease lasts (<see cref="StandbyLease"/>, in its
/// name), which the worker renews every quarter of <c>WORKER_DOCKER_STANDBY_LEASE</c>. Several workers
/// may share a host name and an engine (two workers with <c>--network host</c>), so a standby is only
/// ever taken over once its lease has lapsed, i.e. its worker is gone: one made to the same settings
/// (its <c>worker-standby-spec</c> label) while this pool has room, any other is removed. Every move
/// on a standby (renew, claim, take over, remove) is a rename from the name it was seen under, so
/// two workers can't both win one, and the loser never touches it by id: the container may be running
/// the winner's job.
/// </para>
/// </summary>
public sealed class DockerStandbyPool : IAsyncDisposable
{
    /// <summary>The deadline label of an idle standby, for cleanup sidecars that can't read its lease.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(24);

    private static readonly TimeSpan FailureBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReplenishDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly IDockerClient _client;
    private readonly ContainerLauncher _launcher;
    private readonly ContainerSpec _spec;
    private readonly MachineLabels _labels;
    private readonly int _size;
    private readonly TimeSpan _lease;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<Standby> _ready = new();
    private readonly ConcurrentDictionary<string, bool> _claiming = new(StringComparer.Ordinal);
    /// <summary>Name suffixes of the standbys this pool is creating and starting: not yet ready, already on the engine.</summary>
    private readonly ConcurrentDictionary<string, bool> _starting = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, bool> _launching = new();
    private readonly object _gate = new();
    private readonly CancellationTokenSource _closing = new();
    /// <summary>Done when the first sweep (the one that may take standbys over) is; the upkeep sweeps only after it, as it can't count on its room.</summary>
    private readonly TaskCompletionSource _firstSweep = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _upkeep;
    private int _pending;
    private DateTimeOffset _lastFailure = DateTimeOffset.MinValue;
    private bool _sweptOnce;
    private volatile bool _closed;

    public DockerStandbyPool(IDockerClient client, ContainerLauncher launcher, ContainerSpec spec, MachineLabels labels, int size, TimeSpan lease,
        ILogger logger)
    {
        _client = client;
        _launcher = launcher;
        _spec = spec;
        _labels = labels;
        _size = size;
        _lease = lease;
        _logger = logger;
        _upkeep = UpkeepAsync(_closing.Token);
    }

    public ContainerSpec Spec => _spec;

    /// <summary>Ids of the started standby containers not yet taken.</summary>
    public IReadOnlyCollection<string> Ready => _ready.Where(s => !s.Gone).Select(s => s.Id).ToArray();

    /// <summary>Starts containers in the background until <c>N</c> are ready or starting; the first call looks for standbys to take over first.</summary>
    public void Replenish()
    {
        lock (_gate)
        {
            if (_closed || DateTimeOffset.UtcNow - _lastFailure < FailureBackoff)
            {
                return;
            }
            if (!_sweptOnce)
            {
                _sweptOnce = true;
                _pending++;
                Track(SweepThenReplenishAsync());
                return;
            }
            while (ReadyCount + _pending < _size)
            {
                _pending++;
                Track(LaunchOneAsync());
            }
        }
    }

    private int ReadyCount => _ready.Count(s => !s.Gone);

    private void Track(Task task)
    {
        _launching[task] = true;
        _ = task.ContinueWith(t => _launching.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task SweepThenReplenishAsync()
    {
        await Task.Yield();
        try
        {
            await SweepAsync(countedAsPending: true, CancellationToken.None);
        }
        finally
        {
            lock (_gate)
            {
                _pending--;
            }
            _firstSweep.TrySetResult();
        }
        Replenish();
    }

    /// <summary>Renews the leases of the idle standbys and sweeps the host for lapsed ones, every quarter of the lease, until disposed.</summary>
    private async Task UpkeepAsync(CancellationToken ct)
    {
        await Task.Yield();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_lease / 4, ct);
                await RenewAsync(ct);
                if (_firstSweep.Task.IsCompleted)
                {
                    await SweepAsync(countedAsPending: false, ct);
                }
                Replenish();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Standby upkeep failed ({Error}); trying again in {Interval}", e.Message, _lease / 4);
            }
        }
    }

    private async Task RenewAsync(CancellationToken ct)
    {
        foreach (var standby in _ready)
        {
            await standby.Lock.WaitAsync(ct);
            try
            {
                if (standby.Gone || standby.Taken)
                {
                    continue;
                }
                var renewed = StandbyLease.Name(standby.Suffix, LeaseEnd());
                if (renewed == standby.Name)
                {
                    continue; // renewed within this second already (Docker refuses a rename to the same name)
                }
                await RenameAsync(standby.Name, renewed);
                standby.Name = renewed;
            }
            catch (Exception e) when (DockerFailures.IsNoSuchContainer(e))
            {
                // Its lease lapsed (this worker was cut off from the engine) and another worker took it, or cleanup removed it.
                standby.MarkGone();
                _logger.LogWarning("Standby container {Id} is no longer this worker's (its lease lapsed and it was taken over or removed)", standby.ShortId);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning("Could not renew the lease of standby container {Id} ({Error}); trying again in {Interval}", standby.ShortId, e.Message, _lease / 4);
            }
            finally
            {
                standby.Lock.Release();
            }
        }
    }

    /// <summary>
    /// Standbys of this fleet on this host whose lease lapsed: their worker is gone. One made to this
    /// pool's settings is taken over while the pool has room; any other is removed.
    /// </summary>
    /// <param name="countedAsPending">Whether this sweep holds a place among the pending starts (the first one does, so a fill waits for it).</param>
    private async Task SweepAsync(bool countedAsPending, CancellationToken ct)
    {
        IList<ContainerListResponse> found;
        try
        {
            found = await _client.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>>
                {
                    ["label"] = new Dictionary<string, bool>
                    {
                        [$"{MachineLabels.Fleet}={_labels.FleetName}"] = true,
                        [$"{MachineLabels.Host}={_labels.WorkerHost}"] = true,
                        [$"{MachineLabels.Standby}=true"] = true,
                    },
                },
            }, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("Could not look for standby containers left on this host: {Error}", e.Message);
            return;
        }
        var fingerprint = _launcher.Fingerprint(_spec);
        var mine = _ready.Select(s => s.Id).Concat(_claiming.Keys).ToHashSet(StringComparer.Ordinal);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (var container in found)
        {
            var name = container.Names?.FirstOrDefault()?.TrimStart('/') ?? "";
            if (mine.Contains(container.ID) || !StandbyLease.TryParse(name, out var suffix, out var until) || until > now || _starting.ContainsKey(suffix))
            {
                continue; // this pool's own (also one still starting, whose lease a slow start may have outlasted), an older worker's without a lease, or one whose worker lives
            }
            var alike = container.State == "running" && container.Labels is { } labels && labels.TryGetValue(ContainerLauncher.SpecLabel, out var spec) && spec == fingerprint;
            bool room;
            lock (_gate)
            {
                room = !_closed && ReadyCount + _pending - (countedAsPending ? 1 : 0) < _size;
            }
            if (alike && room)
            {
                await TakeOverAsync(container.ID, container.ImageID, name, suffix, until, ct);
            }
            else
            {
                await RemoveLapsedAsync(container.ID, name, suffix, ct);
            }
        }
    }

    private async Task TakeOverAsync(string id, string? imageId, string name, string suffix, long lapsedAt, CancellationToken ct)
    {
        var leased = StandbyLease.Name(suffix, LeaseEnd());
        try
        {
            ct.ThrowIfCancellationRequested();
            await RenameAsync(name, leased);
            _ready.Enqueue(new Standby(id, leased, suffix) { Pinned = await CountPinnedAsync(id, ct), ImageId = imageId });
            _logger.LogInformation("Took over idle standby container {Id}, whose worker is gone (its lease lapsed at {Lapsed:u})", id[..12],
                DateTimeOffset.FromUnixTimeSeconds(lapsedAt));
        }
        catch (Exception e) when (DockerFailures.IsNoSuchContainer(e))
        {
            // Another worker moved first.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("Could not take over standby container {Id}: {Error}", id[..12], e.Message);
        }
    }

    /// <summary>The CPUs a standby taken over is pinned to, counted as this worker's; uncounted should the engine not say.</summary>
    private async Task<CpuSetLease?> CountPinnedAsync(string id, CancellationToken ct)
    {
        try
        {
            using var call = CancellationTokenSource.CreateLinkedTokenSource(ct);
            call.CancelAfter(CallTimeout);
            var container = await _client.Containers.InspectContainerAsync(id, call.Token);
            return await _launcher.CountPinnedAsync(container.HostConfig?.CpusetCpus, call.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _logger.LogWarning("Could not read which CPUs standby container {Id} is pinned to ({Error}); new containers may share them", id[..12], e.Message);
            return null;
        }
    }

    /// <summary>Removes a standby whose worker is gone, by a name only this worker gives it, so it can't be one another worker just took.</summary>
    private async Task RemoveLapsedAsync(string id, string name, string suffix, CancellationToken ct)
    {
        var reaped = StandbyLease.Name(suffix, 0);
        try
        {
            ct.ThrowIfCancellationRequested();
            if (name != reaped)
            {
                await RenameAsync(name, reaped);
            }
            using var call = new CancellationTokenSource(CallTimeout);
            await ContainerLauncher.RemoveAsync(_client, reaped, call.Token);
            _logger.LogInformation("Removed standby container {Id}, left by a worker that is gone (not needed here)", id[..12]);
        }
        catch (Exception e) when (DockerFailures.IsNoSuchContainer(e))
        {
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("Could not remove standby container {Id} left by a worker that is gone: {Error}", id[..12], e.Message);
        }
    }

    /// <summary>Replenishes and waits until the pool is full (or a start failed). For warm-up, tests and benchmarks.</summary>
    public async Task FillAsync(CancellationToken ct)
    {
        Replenish();
        while (!_closed && ReadyCount < _size && (_pending > 0 || DateTimeOffset.UtcNow - _lastFailure >= FailureBackoff))
        {
            await Task.WhenAny(Task.WhenAll(_launching.Keys), Task.Delay(Timeout.Infinite, ct));
            ct.ThrowIfCancellationRequested();
            Replenish();
        }
    }

    /// <summary>Takes a ready standby for the job and names it after it, or null when none is ready.</summary>
    /// <param name="imageId">
    /// The image the spec's image name gives on this host now, when the caller looked (a pull under
    /// <c>WORKER_DOCKER_PULL=always</c>): a standby made of another (before the name moved) is
    /// removed, not taken, as the job asked for the image as its registry has it now.
    /// </param>
    public async Task<ExecInstance?> TryClaimAsync(StartAttributes job, string? imageId, CancellationToken ct)
    {
        while (_ready.TryDequeue(out var standby))
        {
            var deadline = job.Labels.TryGetValue(MachineLabels.Deadline, out var d) &&
                           long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                ? seconds
                : (DateTimeOffset.UtcNow + job.HardTimeout + _labels.DeadlineMargin).ToUnixTimeSeconds();
            var claimed = StandbyClaim.Name(job.JobId, deadline, standby.ShortId);
            // Not the job's token: a renewal holds it only for one rename.
            await standby.Lock.WaitAsync(CancellationToken.None);
            _claiming[standby.Id] = true;
            try
            {
                if (standby.Gone)
                {
                    continue;
                }
                if (imageId is not null && standby.ImageId is not null && standby.ImageId != imageId)
                {
                    _logger.LogInformation("Standby container {Id} is of image {Image} as it was before that name moved; removing it", standby.ShortId, _spec.Image);
                    standby.MarkGone();
                    _ = RemoveStaleAsync(standby.Name);
                    continue;
                }
                await _client.Containers.RenameContainerAsync(standby.Name, new ContainerRenameParameters { NewName = claimed }, ct);
                standby.Taken = true;
                _ = Task.Delay(ReplenishDelay, CancellationToken.None).ContinueWith(_ => Replenish(), TaskScheduler.Default);
                return new ExecInstance(_client, _launcher.Endpoint, standby.Id, _spec.Image, _logger, stopped: () =>
                {
                    standby.Pinned?.Dispose();
                    _launcher.SupersededImages.RemoveUnused();
                    Replenish();
                }, terminal: _launcher.ScriptsOnTerminal);
            }
            catch (Exception e) when (DockerFailures.IsNoSuchContainer(e) && !ct.IsCancellationRequested)
            {
                // Lost it: its lease lapsed and another worker took it over (it may be running that worker's job now), or it was removed.
                standby.MarkGone();
                _logger.LogWarning("Standby container {Id} is no longer this worker's; trying the next", standby.ShortId);
            }
            catch (DockerApiException e) when (!ct.IsCancellationRequested)
            {
                _logger.LogWarning("Standby container {Id} can't be taken ({Error}); removing it and trying the next", standby.ShortId, e.Message);
                standby.MarkGone();
                await RemoveByNamesAsync(claimed, standby.Name);
            }
            catch (OperationCanceledException)
            {
                // Renamed or not, it is no longer a clean standby; by its names, which only this worker gives it.
                standby.MarkGone();
                await RemoveByNamesAsync(claimed, standby.Name);
                Replenish();
                throw;
            }
            finally
            {
                _claiming.TryRemove(standby.Id, out _);
                standby.Lock.Release();
            }
        }
        Replenish();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _closed = true; // under the lock that starts launches, so none starts unseen by the wait below
        }
        await _closing.CancelAsync();
        await _upkeep;
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
            if (!standby.Gone)
            {
                // By name: were its lease to have lapsed, another worker may have taken it (and renamed it) meanwhile.
                removals.Add(ContainerLauncher.RemoveQuietlyAsync(_client, standby.Name, _logger));
                standby.MarkGone();
            }
        }
        await Task.WhenAll(removals);
        _closing.Dispose();
    }

    /// <summary>
    /// A rename for the upkeep, not cut short when the pool closes: a rename given up half-way may
    /// still happen in the engine, and the pool would no longer know the name to remove it by.
    /// </summary>
    private async Task RenameAsync(string from, string to)
    {
        using var call = new CancellationTokenSource(CallTimeout);
        await _client.Containers.RenameContainerAsync(from, new ContainerRenameParameters { NewName = to }, call.Token);
    }

    /// <summary>Removes a standby of an image whose name moved; that image may then go too.</summary>
    private async Task RemoveStaleAsync(string name)
    {
        await ContainerLauncher.RemoveQuietlyAsync(_client, name, _logger);
        _launcher.SupersededImages.RemoveUnused();
    }

    private async Task RemoveByNamesAsync(params string[] names)
    {
        foreach (var name in names)
        {
            await ContainerLauncher.RemoveQuietlyAsync(_client, name, _logger);
        }
    }

    private async Task LaunchOneAsync()
    {
        await Task.Yield();
        var suffix = Guid.NewGuid().ToString("N")[..12];
        _starting[suffix] = true;
        try
        {
            var name = StandbyLease.Name(suffix, LeaseEnd());
            var (id, pinned) = await _launcher.LaunchForExecAsync(_spec, Labels(), name, progress: null, imageRefreshed: false, CancellationToken.None);
            if (_closed)
            {
                await ContainerLauncher.RemoveQuietlyAsync(_client, id, _logger);
                pinned?.Dispose();
                return;
            }
            _ready.Enqueue(new Standby(id, name, suffix) { Pinned = pinned, ImageId = await ImageOfAsync(id) });
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
            _starting.TryRemove(suffix, out _);
            lock (_gate)
            {
                _pending--;
            }
        }
    }

    /// <summary>The image a standby was made of, which a job under <c>WORKER_DOCKER_PULL=always</c> compares; null (not compared) should the engine not say.</summary>
    private async Task<string?> ImageOfAsync(string id)
    {
        try
        {
            using var call = new CancellationTokenSource(CallTimeout);
            return (await _client.Containers.InspectContainerAsync(id, call.Token)).Image;
        }
        catch (Exception e)
        {
            _logger.LogWarning("Could not read which image standby container {Id} is of ({Error}); a job takes it even if that image's name moved", id[..12], e.Message);
            return null;
        }
    }

    private long LeaseEnd() => (DateTimeOffset.UtcNow + _lease).ToUnixTimeSeconds();

    private Dictionary<string, string> Labels()
    {
        var labels = _labels.For(0, IdleLifetime - _labels.DeadlineMargin).ToDictionary();
        labels.Remove(MachineLabels.JobId);
        labels[MachineLabels.Standby] = "true";
        labels[ContainerLauncher.SpecLabel] = _launcher.Fingerprint(_spec);
        return labels;
    }

    /// <summary>An idle standby of this pool: its current name changes with each renewal, under <see cref="Lock"/>.</summary>
    private sealed class Standby(string id, string name, string suffix)
    {
        public string Id { get; } = id;
        public string ShortId => Id[..12];
        public string Suffix { get; } = suffix;
        public string Name { get; set; } = name;
        public SemaphoreSlim Lock { get; } = new(1, 1);
        public bool Taken { get; set; }
        public bool Gone { get; private set; }

        /// <summary>The CPUs it is pinned to (null: not pinned), given back when it is gone or its job's container is removed.</summary>
        public CpuSetLease? Pinned { get; init; }

        /// <summary>The id of the image it was made of; null when the engine did not say.</summary>
        public string? ImageId { get; init; }

        /// <summary>No longer this pool's: removed, or another worker's now.</summary>
        public void MarkGone()
        {
            Gone = true;
            Pinned?.Dispose();
        }
    }
}
