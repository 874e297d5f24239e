using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;

namespace Worker.Vm;

/// <summary>
/// Keeps <c>_STANDBY</c> VMs of the default image and settings booted and reachable over SSH. A job
/// that asks for exactly that takes one (the swap is logged, and its record gets the job's id and
/// deadline), and another boots behind it at once. A standby is handed to one job only and deleted
/// with that job's VM. A standby that fails to boot is retried after a pause that doubles with each
/// failure in a row (<see cref="VmOptions.StandbyRetry"/> up to <see cref="VmOptions.StandbyRetryMax"/>);
/// boots run in the background, so a failing standby never holds up a job, which then gets a fresh
/// VM. A standby whose <c>run</c> ends while it waits is deleted and replaced. Dispose deletes what is idle.
/// A caller's standby (<see cref="IStandbyHost.KeepStandby"/>) may add a step awaited before each boot
/// (tart-pre-pull) and a warm-up run in each VM before it is ready; a warm-up that fails deletes the
/// VM and counts as a failed boot.
/// </summary>
public sealed class VmStandbyPool : IAsyncDisposable
{
    /// <summary>How long an idle standby may live before cleanup may take it for a leftover (its record's deadline).</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(24);

    private static readonly TimeSpan TeardownBudget = TimeSpan.FromMinutes(2);
    private static readonly Progress<string> NoProgress = new();

    private readonly VmLauncher _launcher;
    private readonly MachineLabels _labels;
    private readonly VmOptions _options;
    private readonly ILogger _logger;
    private readonly VmWarmup? _warmup;
    private readonly Func<CancellationToken, Task>? _beforeEachBoot;
    private readonly List<VmMachine> _ready = [];
    private readonly ConcurrentDictionary<Task, bool> _work = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly Lock _gate = new();
    private int _booting;
    private int _failuresInRow;
    private DateTimeOffset _retryAt = DateTimeOffset.MinValue;
    private bool _retryScheduled;

    public VmStandbyPool(VmLauncher launcher, VmSpec spec, MachineLabels labels, VmOptions options, ILogger logger,
        VmWarmup? warmup = null, Func<CancellationToken, Task>? beforeEachBoot = null)
    {
        _warmup = warmup;
        _beforeEachBoot = beforeEachBoot;
        _launcher = launcher;
        Spec = spec;
        _labels = labels;
        _options = options;
        _logger = logger;
    }

    /// <summary>What every standby is made of.</summary>
    public VmSpec Spec { get; }

    /// <summary>Names of the booted standbys no job has taken yet.</summary>
    public IReadOnlyList<string> Ready
    {
        get
        {
            lock (_gate)
            {
                return [.. _ready.Select(m => m.Name)];
            }
        }
    }

    /// <summary>The booted standbys no job has taken yet, with when each was ready.</summary>
    public IReadOnlyList<(string Name, DateTimeOffset ReadyAt)> ReadyMachines
    {
        get
        {
            lock (_gate)
            {
                return [.. _ready.Select(m => (m.Name, m.BootedAt))];
            }
        }
    }

    /// <summary>Boots that failed since the last one that worked.</summary>
    public int FailuresInRow => Volatile.Read(ref _failuresInRow);

    /// <summary>Boots VMs in the background until <c>N</c> are ready or booting, unless a failure's pause is not over.</summary>
    public void Replenish()
    {
        lock (_gate)
        {
            if (_closing.IsCancellationRequested)
            {
                return;
            }
            var wait = _retryAt - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                if (!_retryScheduled)
                {
                    _retryScheduled = true;
                    Track(RetryLaterAsync(wait));
                }
                return;
            }
            while (_ready.Count + _booting < _options.StandbyCount)
            {
                _booting++;
                Track(BootOneAsync());
            }
        }
    }

    /// <summary>Takes a booted standby for <paramref name="job"/>, or null when none is ready.</summary>
    public VmMachine? TryClaim(StartAttributes job)
    {
        while (Take() is { } machine)
        {
            if (machine.Run is not { HasExited: false })
            {
                Track(DestroyAsync(machine, "it stopped while it waited"));
                continue;
            }
            if (machine.ImageMoves < _launcher.ImageMoves(Spec.Image))
            {
                // A pull since its clone found the tag on a new image; the job asked for the image as it is now.
                Track(DestroyAsync(machine, $"it was cloned from {Spec.Image} before that tag moved"));
                continue;
            }
            var labels = new Dictionary<string, string>(job.Labels) { [MachineLabels.Standby] = "taken" };
            machine.Record.Relabel(labels);
            _logger.LogInformation("Job {JobId} takes standby VM {Vm} (ready for {Age:0}s); booting another",
                job.JobId, machine.Name, (DateTimeOffset.UtcNow - machine.BootedAt).TotalSeconds);
            Replenish();
            return machine;
        }
        Replenish();
        return null;
    }

    /// <summary>Replenishes and waits until the pool is full or a boot failed. For warm-up, tests and benchmarks.</summary>
    public async Task FillAsync(CancellationToken ct)
    {
        var failures = FailuresInRow;
        Replenish();
        while (Ready.Count < _options.StandbyCount && FailuresInRow == failures)
        {
            await Task.Delay(50, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_closing.IsCancellationRequested)
            {
                return;
            }
            _closing.Cancel();
        }
        try
        {
            await Task.WhenAll(_work.Keys);
        }
        catch (Exception)
        {
            // Each was logged where it failed.
        }
        var idle = new List<Task>();
        while (Take() is { } machine)
        {
            idle.Add(DestroyAsync(machine, "the worker is stopping"));
        }
        await Task.WhenAll(idle);
    }

    private async Task BootOneAsync()
    {
        await Task.Yield();
        var name = "worker-standby-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            await BeforeBootAsync();
            var machine = await _launcher.LaunchAsync(name, Spec, Labels(), NoProgress, _closing.Token);
            await WarmUpAsync(machine);
            lock (_gate)
            {
                _failuresInRow = 0;
                _retryAt = DateTimeOffset.MinValue;
                if (!_closing.IsCancellationRequested)
                {
                    _ready.Add(machine);
                    machine.Run!.ExitedToken.Register(() => Track(DropIfIdleAsync(machine)));
                    _logger.LogInformation("Standby VM {Vm} is ready ({Image})", name, Spec.Image);
                    return;
                }
            }
            await DestroyAsync(machine, "the worker is stopping");
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            TimeSpan pause;
            lock (_gate)
            {
                _failuresInRow++;
                var factor = Math.Pow(2, Math.Min(_failuresInRow - 1, 20));
                pause = TimeSpan.FromTicks((long)Math.Min(_options.StandbyRetryMax.Ticks, _options.StandbyRetry.Ticks * factor));
                _retryAt = DateTimeOffset.UtcNow + pause;
            }
            _logger.LogError("Standby VM {Vm} could not boot ({Error}); jobs get fresh VMs meanwhile; trying again in {Pause}s",
                name, e.Message, pause.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture));
        }
        finally
        {
            lock (_gate)
            {
                _booting--;
            }
            Replenish();
        }
    }

    private async Task BeforeBootAsync()
    {
        if (_beforeEachBoot is null)
        {
            return;
        }
        try
        {
            await _beforeEachBoot(_closing.Token);
        }
        catch (Exception e) when (!_closing.IsCancellationRequested)
        {
            _logger.LogWarning("The step before a standby's boot failed ({Error}); booting it anyway", e.Message);
        }
    }

    /// <summary>Runs the warm-up in the booted VM; a VM whose warm-up fails (or is cut short by the worker stopping) is deleted.</summary>
    private async Task WarmUpAsync(VmMachine machine)
    {
        if (_warmup is null)
        {
            return;
        }
        try
        {
            await _warmup.RunAsync(machine, _closing.Token);
        }
        catch (Exception e)
        {
            await DestroyAsync(machine, _closing.IsCancellationRequested ? "the worker is stopping" : $"its warm-up failed ({e.Message})");
            throw;
        }
    }

    private async Task RetryLaterAsync(TimeSpan wait)
    {
        try
        {
            await Task.Delay(wait, _closing.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_gate)
        {
            _retryScheduled = false;
        }
        Replenish();
    }

    /// <summary>A standby whose run ended while it waited is of no use: it goes, and another boots.</summary>
    private async Task DropIfIdleAsync(VmMachine machine)
    {
        await Task.Yield();
        bool removed;
        lock (_gate)
        {
            removed = _ready.Remove(machine);
        }
        if (removed)
        {
            await DestroyAsync(machine, $"it stopped while it waited ({machine.Run!.Describe()})");
            Replenish();
        }
    }

    private async Task DestroyAsync(VmMachine machine, string why)
    {
        _logger.LogInformation("Deleting standby VM {Vm}: {Why}", machine.Name, why);
        using var teardown = new CancellationTokenSource(TeardownBudget);
        try
        {
            await machine.DestroyAsync(teardown.Token);
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "Deleting standby VM {Vm}", machine.Name);
        }
    }

    /// <summary>The standby that waited longest, now out of the pool; null when none is ready.</summary>
    private VmMachine? Take()
    {
        lock (_gate)
        {
            if (_ready.Count == 0)
            {
                return null;
            }
            var first = _ready[0];
            _ready.RemoveAt(0);
            return first;
        }
    }

    private void Track(Task task)
    {
        _work[task] = true;
        _ = task.ContinueWith(t => _work.TryRemove(t, out _), TaskScheduler.Default);
    }

    /// <summary>An idle standby's labels: no job yet, and a deadline a day away.</summary>
    private Dictionary<string, string> Labels()
    {
        var labels = _labels.For(0, IdleLifetime - _labels.DeadlineMargin).ToDictionary();
        labels.Remove(MachineLabels.JobId);
        labels[MachineLabels.Standby] = "true";
        return labels;
    }
}
