using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Ssh.BareMetal;

/// <summary>
/// The hosts of <c>WORKER_SSH_HOSTS</c> and who holds each: one job per host at a time. A host that
/// refused or dropped a connection is set aside for <c>WORKER_SSH_HOST_RETRY</c>, then tried again
/// by the next job that needs a host (or at once by a probe). A job that finds every free host set
/// aside while others run jobs waits for one; when every host is set aside and none runs a job,
/// there is nothing to wait for: that is this worker's failure, not the job's.
/// </summary>
internal sealed class SshHostPool
{
    private readonly List<PooledHost> _hosts;
    private readonly TimeSpan _setAsideFor;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = NewSignal();
    private long _uses;
    private bool _allDownLogged;

    public SshHostPool(IReadOnlyList<SshEndpoint> endpoints, TimeSpan setAsideFor, ILogger logger)
    {
        _hosts = [.. endpoints.Select(e => new PooledHost(e))];
        _setAsideFor = setAsideFor;
        _logger = logger;
    }

    public int Count => _hosts.Count;

    public TimeSpan SetAsideFor => _setAsideFor;

    /// <summary>
    /// A free host that is not set aside, the one idle longest first (hosts never set aside before
    /// those on retry). Waits while every such host is busy; throws a host-kind
    /// <see cref="BackendFailureException"/> when every host is set aside and none runs a job.
    /// </summary>
    /// <param name="holder">Who takes it (e.g. "job 42"), for messages about busy hosts.</param>
    public async Task<SshHostLease> LeaseAsync(string holder, IProgress<string> progress, CancellationToken ct)
    {
        var waitingReported = false;
        while (true)
        {
            Task changed;
            TimeSpan? untilRetry;
            lock (_lock)
            {
                var now = DateTimeOffset.UtcNow;
                var free = _hosts.Where(h => h.Holder is null && !h.IsSetAside(now))
                    .OrderBy(h => h.AsideUntil is not null)
                    .ThenBy(h => h.LastUse)
                    .FirstOrDefault();
                if (free is not null)
                {
                    free.Holder = holder;
                    free.LastUse = ++_uses;
                    return new SshHostLease(this, free);
                }
                if (_hosts.All(h => h.Holder is null))
                {
                    throw BackendFailureException.Host($"every host of WORKER_SSH_HOSTS is set aside: {DescribeLocked(now)}");
                }
                changed = _changed.Task;
                untilRetry = _hosts.Where(h => h.Holder is null && h.AsideUntil is not null).Select(h => (TimeSpan?)(h.AsideUntil!.Value - now)).Min();
                if (!waitingReported)
                {
                    waitingReported = true;
                    progress.Report($"Every host is busy or set aside; waiting for one: {DescribeLocked(now)}");
                }
            }
            // Look again when a host is released or set aside, or when the first set-aside host is due for a retry.
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (untilRetry is { } wait)
            {
                wake.CancelAfter(wait);
            }
            try
            {
                await changed.WaitAsync(wake.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>The hosts no job holds now, for a probe.</summary>
    public IReadOnlyList<SshEndpoint> Idle()
    {
        lock (_lock)
        {
            return [.. _hosts.Where(h => h.Holder is null).Select(h => h.Endpoint)];
        }
    }

    /// <summary>How each host stands, e.g. for the probe's failure.</summary>
    public string Describe()
    {
        lock (_lock)
        {
            return DescribeLocked(DateTimeOffset.UtcNow);
        }
    }

    /// <summary>Sets <paramref name="host"/> aside for the retry time; held or not, no job gets it before then.</summary>
    internal void SetAside(PooledHost host, string reason)
    {
        lock (_lock)
        {
            var now = DateTimeOffset.UtcNow;
            host.AsideUntil = now + _setAsideFor;
            host.AsideReason = reason;
            _logger.LogWarning("SSH host {Host} is set aside for {Retry}: {Reason}", host.Endpoint, Durations.Format(_setAsideFor), reason);
            if (!_allDownLogged && _hosts.All(h => h.IsSetAside(now)))
            {
                _allDownLogged = true;
                _logger.LogError("Every host of WORKER_SSH_HOSTS is down: {Hosts}. Jobs are requeued until one answers again", DescribeLocked(now));
            }
            Signal();
        }
    }

    /// <summary>The host took a login and works: whatever set it aside is over.</summary>
    internal void Working(PooledHost host)
    {
        lock (_lock)
        {
            if (host.AsideUntil is null)
            {
                return;
            }
            _logger.LogInformation("SSH host {Host} answers again (set aside for: {Reason})", host.Endpoint, host.AsideReason);
            host.AsideUntil = null;
            host.AsideReason = null;
            _allDownLogged = false;
            Signal();
        }
    }

    internal void Working(SshEndpoint endpoint) => Working(_hosts.First(h => h.Endpoint == endpoint));

    internal void SetAside(SshEndpoint endpoint, string reason) => SetAside(_hosts.First(h => h.Endpoint == endpoint), reason);

    internal void Release(PooledHost host)
    {
        lock (_lock)
        {
            host.Holder = null;
            Signal();
        }
    }

    /// <summary>Under the lock: wakes every job waiting for a host, which look again.</summary>
    private void Signal()
    {
        _changed.TrySetResult();
        _changed = NewSignal();
    }

    private string DescribeLocked(DateTimeOffset now) => string.Join("; ", _hosts.Select(h => h switch
    {
        _ when h.IsSetAside(now) => $"{h.Endpoint} set aside until {h.AsideUntil:HH:mm:ss}Z ({h.AsideReason})",
        { Holder: { } holder } => $"{h.Endpoint} runs {holder}",
        { AsideUntil: not null } => $"{h.Endpoint} due for a retry ({h.AsideReason})",
        _ => $"{h.Endpoint} free",
    }));

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>One host of the pool and what the pool knows about it; read and written under the pool's lock.</summary>
internal sealed class PooledHost(SshEndpoint endpoint)
{
    public SshEndpoint Endpoint { get; } = endpoint;

    /// <summary>Who holds it (a job), or null when it is free.</summary>
    public string? Holder { get; set; }

    /// <summary>When it may be tried again after it failed; stays set (in the past) until it works again.</summary>
    public DateTimeOffset? AsideUntil { get; set; }

    public string? AsideReason { get; set; }

    /// <summary>Sequence number of its last lease, so the host idle longest goes first.</summary>
    public long LastUse { get; set; }

    /// <summary>Job directories whose removal failed (the host was gone); removed before its next job.</summary>
    public List<string> Leftovers { get; } = [];

    public bool IsSetAside(DateTimeOffset now) => AsideUntil is { } until && until > now;
}
