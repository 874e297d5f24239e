using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Pipeline;

/// <summary>
/// Keeps a host whose backend is down from taking jobs it can only fail (a black-hole host).
/// After <c>WORKER_HOST_FAILURE_THRESHOLD</c> host failures in a row the breaker opens: the
/// processors end their receive (AMQP consumers are cancelled, the file queue is not claimed), so
/// other hosts get the jobs, and the backend is probed with backoff. A probe that succeeds resumes
/// intake on trial: the next host failure opens the breaker again at once (the probe can't see
/// everything: a ping passes while the disk is full), a job whose script runs closes it. A host
/// broken for <c>WORKER_HOST_UNHEALTHY_AFTER</c>, with no job run since, is unhealthy.
/// </summary>
public sealed class HostCircuitBreaker : IAsyncDisposable
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);

    private readonly IBackend _backend;
    private readonly HostBreakerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _disposed = new();
    private CancellationTokenSource _intake = new();
    private TaskCompletionSource _resumed = NewSignal(completed: true);
    private Task _probing = Task.CompletedTask;
    private TimeSpan _nextProbe;
    private int _failures;
    private bool _unhealthyLogged;

    /// <summary>A job on trial failed since the host broke: its probe passes without the jobs working.</summary>
    private bool _trialFailed;

    public HostCircuitBreaker(IBackend backend, HostBreakerOptions options, ILogger<HostCircuitBreaker> logger, TimeProvider? clock = null)
    {
        _backend = backend;
        _options = options;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
        _nextProbe = options.ProbeInterval;
    }

    public BreakerState State { get; private set; } = BreakerState.Closed;

    /// <summary>The last host failure, naming what is broken.</summary>
    public string? LastFailure { get; private set; }

    /// <summary>When the breaker first opened with no job run since; null while the backend works.</summary>
    public DateTimeOffset? BrokenSince { get; private set; }

    public bool TakingJobs => State != BreakerState.Open;

    /// <summary>
    /// Broken for at least <c>WORKER_HOST_UNHEALTHY_AFTER</c> with no job run since: time to replace the
    /// host. Counted on trial too once a trial failed: then the probe passes without the jobs working
    /// (a zone get that passes while inserts are refused), so the host would otherwise go between
    /// trial and open for good, answering 200 on every trial.
    /// </summary>
    public bool Unhealthy
    {
        get
        {
            lock (_lock)
            {
                return IsUnhealthy();
            }
        }
    }

    /// <summary>Under the lock: see <see cref="Unhealthy"/>.</summary>
    private bool IsUnhealthy() =>
        BrokenSince is { } since && _clock.GetUtcNow() - since >= _options.UnhealthyAfter
        && (State == BreakerState.Open || (State == BreakerState.Trial && _trialFailed));

    /// <summary>Why <see cref="Unhealthy"/>, for /healthz.</summary>
    public string? UnhealthyReason
    {
        get
        {
            lock (_lock)
            {
                return State == BreakerState.Trial
                    ? $"backend {_backend.Name} is unusable: {LastFailure}. Broken since {BrokenSince:u}: {_backend.ProbeDescription} succeeds, but the jobs tried since failed"
                    : OpenReason();
            }
        }
    }

    /// <summary>Why this host takes no jobs, or null when it does.</summary>
    public string? Reason
    {
        get
        {
            lock (_lock)
            {
                return OpenReason();
            }
        }
    }

    private string? OpenReason() => State != BreakerState.Open
        ? null
        : $"backend {_backend.Name} is unusable: {LastFailure}. Taking no jobs since {BrokenSince:u} until {_backend.ProbeDescription} succeeds";

    /// <summary>Fires when the host stops taking jobs; a processor ends its receive then.</summary>
    public CancellationToken IntakeStopped
    {
        get
        {
            lock (_lock)
            {
                return _intake.Token;
            }
        }
    }

    /// <summary>Completes at once while the host takes jobs, else when it takes them again.</summary>
    public Task WaitUntilTakingJobsAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            return _resumed.Task.WaitAsync(ct);
        }
    }

    /// <summary>Counts what a job's outcome says about the backend (<see cref="OutcomePolicy"/> decides the signal).</summary>
    public void Record(HostSignal signal, string reason)
    {
        switch (signal)
        {
            case HostSignal.Broken:
                RecordFailure(reason);
                break;
            case HostSignal.Working:
                RecordWorking();
                break;
        }
    }

    private void RecordFailure(string reason)
    {
        CancellationTokenSource stopped;
        lock (_lock)
        {
            LastFailure = reason;
            _failures++;
            if (State == BreakerState.Open || (State == BreakerState.Closed && _failures < _options.Threshold))
            {
                return;
            }
            var after = State == BreakerState.Trial ? "its first job after a successful probe failed too" : $"{_failures} host failures in a row";
            _trialFailed |= State == BreakerState.Trial;
            State = BreakerState.Open;
            BrokenSince ??= _clock.GetUtcNow();
            _resumed = NewSignal(completed: false);
            stopped = _intake;
            using (ExecutionContext.SuppressFlow())
            {
                // Not in the logging scope of the job whose failure opened the breaker.
                _probing = Task.Run(ProbeUntilItWorksAsync);
            }
            _logger.LogError(
                "Backend {Backend} is unusable ({After}): {Reason}. This host takes no jobs until {Probe} succeeds, probed after {Interval}, backing off to every {MaxInterval}; " +
                "/readyz answers 503 meanwhile, and /healthz once broken for {UnhealthyAfter}",
                _backend.Name, after, reason, _backend.ProbeDescription, Durations.Format(_nextProbe), Durations.Format(_options.ProbeMaxInterval),
                Durations.Format(_options.UnhealthyAfter));
            LogUnhealthyOnce();
        }
        // Outside the lock: processors leave their receive loops on this token.
        stopped.Cancel();
    }

    private void RecordWorking()
    {
        lock (_lock)
        {
            _failures = 0;
            if (State == BreakerState.Closed)
            {
                return;
            }
            if (State == BreakerState.Open)
            {
                Resume();
            }
            _logger.LogInformation("A job ran on backend {Backend} again; it works (it was broken since {Since:u})", _backend.Name, BrokenSince);
            State = BreakerState.Closed;
            BrokenSince = null;
            _trialFailed = false;
            _nextProbe = _options.ProbeInterval;
            _unhealthyLogged = false;
        }
    }

    private async Task ProbeUntilItWorksAsync()
    {
        while (!_disposed.IsCancellationRequested)
        {
            TimeSpan wait;
            lock (_lock)
            {
                wait = _nextProbe;
                _nextProbe = TimeSpan.FromTicks(Math.Min(_nextProbe.Ticks * 2, Math.Max(_options.ProbeMaxInterval.Ticks, _options.ProbeInterval.Ticks)));
            }
            try
            {
                await Task.Delay(wait, _clock, _disposed.Token);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
                timeout.CancelAfter(ProbeTimeout);
                await _backend.ProbeAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                lock (_lock)
                {
                    if (State != BreakerState.Open)
                    {
                        return;
                    }
                    LastFailure = e is OperationCanceledException ? $"{_backend.ProbeDescription} did not answer within {Durations.Format(ProbeTimeout)}" : e.Message;
                    _logger.LogWarning("Probe of backend {Backend} failed: {Error}; next probe in {Wait}", _backend.Name, LastFailure, Durations.Format(_nextProbe));
                    LogUnhealthyOnce();
                }
                continue;
            }
            lock (_lock)
            {
                if (State != BreakerState.Open)
                {
                    return;
                }
                State = BreakerState.Trial;
                _failures = 0;
                Resume();
                _logger.LogWarning("{Probe} succeeded; taking jobs again on trial (the next host failure stops intake at once, a job that runs ends the trial)",
                    _backend.ProbeDescription);
            }
            return;
        }
    }

    /// <summary>Under the lock: says once a broken spell that /healthz now answers 503.</summary>
    private void LogUnhealthyOnce()
    {
        if (IsUnhealthy() && !_unhealthyLogged)
        {
            _unhealthyLogged = true;
            _logger.LogError("Backend {Backend} has been broken since {Since:u}; /healthz answers 503 now, so autohealing replaces this host",
                _backend.Name, BrokenSince);
        }
    }

    /// <summary>Under the lock: a fresh intake token, and the processors waiting for it go.</summary>
    private void Resume()
    {
        // The old source is left to the collector: a processor may still be linking to its token.
        _intake = new CancellationTokenSource();
        _resumed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal(bool completed)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            signal.SetResult();
        }
        return signal;
    }

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync();
        await _probing;
    }
}

/// <summary>Closed: taking jobs. Open: not taking jobs, probing the backend. Trial: taking jobs again after a probe succeeded, until a job runs.</summary>
public enum BreakerState
{
    Closed,
    Open,
    Trial,
}
