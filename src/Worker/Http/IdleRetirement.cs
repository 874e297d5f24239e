using Microsoft.Extensions.Logging;
using Worker.Core.Hosting;
using Worker.Core.Pipeline;

namespace Worker.Http;

/// <summary>
/// Scale-in that never kills a job: once the pool has run no job for <see cref="IdleRetirementOptions.IdleFor"/>
/// (plus up to a tenth, so hosts idle since the same moment don't all ask at once), it stops taking
/// jobs and waits for its processors to be gone. If one got a job meanwhile, the host stays (the
/// fleet has work again). Else it
/// asks the group's target size: above <see cref="IdleRetirementOptions.Minimum"/> it leaves the group
/// and drains (nothing runs, so the run command exits 0 at once); at the minimum it takes jobs again
/// and waits another idle period. A failed group call is logged and the host stays.
/// </summary>
public sealed class IdleRetirement : IAsyncDisposable
{
    private readonly IdleRetirementOptions _options;
    private readonly ProcessorPool _pool;
    private readonly IHostGroup _group;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private IdleRetirement(IdleRetirementOptions options, ProcessorPool pool, IHostGroup group, ILogger logger, TimeProvider clock)
    {
        _options = options;
        _pool = pool;
        _group = group;
        _logger = logger;
        _clock = clock;
        _loop = RunAsync(_stop.Token);
    }

    /// <summary>How often the pool is looked at.</summary>
    public static TimeSpan CheckEvery(TimeSpan idleFor) => TimeSpan.FromTicks(Math.Clamp(idleFor.Ticks / 10, TimeSpan.TicksPerMillisecond * 100, TimeSpan.TicksPerSecond * 10));

    /// <summary>How long processors that were told to leave may take before the host gives up retiring this time.</summary>
    public static readonly TimeSpan LeaveWait = TimeSpan.FromSeconds(30);

    public static IdleRetirement Start(IdleRetirementOptions options, ProcessorPool pool, IHostGroup group, ILogger logger, TimeProvider? clock = null)
    {
        logger.LogInformation("This host leaves {Group} after {Idle} without a job, unless the group holds {Minimum} host(s) or fewer",
            group.Name, options.IdleFor, options.Minimum);
        return new IdleRetirement(options, pool, group, logger, clock ?? TimeProvider.System);
    }

    /// <summary>Jobs run so far, also by processors that are gone: a job shorter than a check still counts as work.</summary>
    private long Activity
    {
        get
        {
            var statuses = _pool.Statuses;
            return _pool.Processed + statuses.Sum(s => s.Processed) + statuses.Count(s => s.JobId.HasValue);
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var idleSince = _clock.GetUtcNow();
        var seen = Activity;
        var patience = Spread(_options.IdleFor);
        var every = CheckEvery(_options.IdleFor);
        try
        {
            while (true)
            {
                await Task.Delay(every, _clock, ct);
                if (_pool.Draining)
                {
                    return;
                }
                // A pool paused by an operator (PUT /pool size 0) is the operator's to decide about.
                var activity = Activity;
                if (activity != seen || _pool.Statuses.Any(p => p.JobId.HasValue) || _pool.Size == 0)
                {
                    seen = activity;
                    idleSince = _clock.GetUtcNow();
                    continue;
                }
                if (_clock.GetUtcNow() - idleSince < patience)
                {
                    continue;
                }
                if (await TryLeaveAsync(ct))
                {
                    return;
                }
                seen = Activity;
                idleSince = _clock.GetUtcNow();
                patience = Spread(_options.IdleFor);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> TryLeaveAsync(CancellationToken ct)
    {
        var size = _pool.Size;
        var before = Activity;
        _pool.SetSize(0); // takes no job while it decides; a job that came in just now runs to its end
        var gone = _clock.GetUtcNow() + LeaveWait;
        while (_pool.Statuses.Count > 0 && _clock.GetUtcNow() < gone)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), _clock, ct);
        }
        if (_pool.Statuses.Count > 0 || _pool.Draining || Activity != before)
        {
            _logger.LogInformation("Idle for {Idle}, but a job came in: staying in {Group}", _options.IdleFor, _group.Name);
            Resume(size);
            return false;
        }
        try
        {
            var target = await _group.TargetSizeAsync(ct);
            if (target <= _options.Minimum)
            {
                _logger.LogInformation("Idle for {Idle}, but {Group} holds {Target} host(s), not more than WORKER_MIN_HOSTS {Minimum}: staying",
                    _options.IdleFor, _group.Name, target, _options.Minimum);
                Resume(size);
                return false;
            }
            await _group.LeaveAsync(ct);
            _logger.LogInformation("Idle for {Idle}: left {Group} ({Target} host(s) before; the group deletes this one); exiting",
                _options.IdleFor, _group.Name, target);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _logger.LogWarning("Idle for {Idle}, but could not leave {Group} ({Error}): staying", _options.IdleFor, _group.Name, e.Message);
            Resume(size);
            return false;
        }
        await _pool.DrainAsync(TimeSpan.Zero);
        return true;
    }

    private void Resume(int size)
    {
        if (!_pool.Draining)
        {
            _pool.SetSize(size);
        }
    }

    /// <summary>Up to a tenth longer than the idle time, at random, so hosts idle since the same moment ask one by one.</summary>
    private static TimeSpan Spread(TimeSpan idleFor) => idleFor + TimeSpan.FromTicks((long)(idleFor.Ticks * 0.1 * Random.Shared.NextDouble()));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
