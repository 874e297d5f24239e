using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Queues;

namespace Worker.Core.Pipeline;

/// <summary>
/// Runs <c>WORKER_POOL_SIZE</c> processors, each taking one job at a time from the queue. The pool
/// can grow and shrink while it runs (a removed processor finishes its job first), pause (size 0),
/// and drain: stop taking jobs, let running ones finish within a timeout, then requeue the rest.
/// </summary>
public sealed class ProcessorPool
{
    private readonly IJobQueue _queue;
    private readonly JobPipeline _pipeline;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly List<Processor> _processors = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;
    private int _desired;
    private InvalidSettingException? _badSetting;

    public ProcessorPool(IJobQueue queue, JobPipeline pipeline, int size, ILogger<ProcessorPool> logger)
    {
        _queue = queue;
        _pipeline = pipeline;
        _logger = logger;
        _desired = size;
    }

    public bool Draining { get; private set; }
    public bool Running { get; private set; }
    public int Size { get { lock (_lock) { return _desired; } } }
    public IJobQueue Queue => _queue;

    /// <summary>Whether this host takes jobs, or why not (its backend is down); null when the pipeline has no breaker.</summary>
    public HostCircuitBreaker? Breaker => _pipeline.Breaker;

    /// <summary>Each processor's id, job and step.</summary>
    public IReadOnlyList<ProcessorStatus> Statuses
    {
        get { lock (_lock) { return _processors.Select(p => p.Status).ToList(); } }
    }

    public long Processed { get; private set; }

    /// <summary>
    /// Runs until drained (or <paramref name="ct"/> stops everything at once). A setting the queue
    /// finds unusable only once it talks to its server (a broker without the plugin a setting needs)
    /// stops every processor and is thrown here once they are gone, so the worker stops as it does
    /// for a bad value at start-up: one line, exit code 2. Only the operator can fix it (on the
    /// broker, or in the setting), so taking jobs again would only fail again.
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var link = ct.Register(() => StopNow());
        using var gauges = Telemetry.PoolGauges.Watch(this);
        lock (_lock)
        {
            Running = true;
            // Drained before it ran (a signal during worker run's start hook): no processor starts.
            for (var i = 0; i < _desired && !Draining; i++)
            {
                StartProcessor();
            }
        }
        CheckDrained();
        try
        {
            await _drained.Task;
        }
        finally
        {
            Running = false;
            if (Breaker is { } breaker)
            {
                await breaker.DisposeAsync(); // no more probes: nothing will take jobs
            }
        }
    }

    /// <summary>Grows or shrinks the pool; 0 pauses it without exiting.</summary>
    public void SetSize(int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        lock (_lock)
        {
            if (Draining)
            {
                return;
            }
            Apply(size);
        }
        _logger.LogInformation("Pool size set to {Size}", size);
    }

    /// <summary>
    /// Adds <paramref name="delta"/> processors (or takes them away), kept within 0 and
    /// <paramref name="max"/>, and returns the new size; null while draining. The sum is made under
    /// the pool's lock: two signals handled at once on different threads must add two processors,
    /// not read the same size and both set it one higher.
    /// </summary>
    public int? ResizeBy(int delta, int max)
    {
        int size;
        lock (_lock)
        {
            if (Draining)
            {
                return null;
            }
            size = Math.Clamp(_desired + delta, 0, max);
            Apply(size);
        }
        _logger.LogInformation("Pool size set to {Size}", size);
        return size;
    }

    /// <summary>Under the lock: starts or retires processors until <paramref name="size"/> are active.</summary>
    private void Apply(int size)
    {
        _desired = size;
        if (!Running)
        {
            return;
        }
        var active = _processors.Where(p => !p.Leaving).ToList();
        for (var i = active.Count; i < size; i++)
        {
            StartProcessor();
        }
        // Idle processors leave first; a busy one finishes its job before it goes.
        foreach (var p in active.OrderBy(p => p.Status.JobId.HasValue).Take(Math.Max(0, active.Count - size)))
        {
            p.Leave();
        }
    }

    /// <summary>Stops taking jobs; running ones get <paramref name="timeout"/> to finish, then are requeued.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        List<Processor> processors;
        lock (_lock)
        {
            Draining = true;
            processors = [.. _processors];
            foreach (var p in processors)
            {
                p.Leave();
            }
        }
        _logger.LogInformation("Draining: {Busy} job(s) running; waiting up to {Timeout} for them. {Statuses}",
            processors.Count(p => p.Status.JobId.HasValue), timeout, string.Join("; ", processors.Select(p => p.Status)));
        var all = Task.WhenAll(processors.Select(p => p.Completion));
        if (await Task.WhenAny(all, Task.Delay(timeout)) != all)
        {
            _logger.LogWarning("Drain timeout reached; requeueing running jobs");
            await _stop.CancelAsync();
            await all;
        }
        CheckDrained();
    }

    /// <summary>Cancels every running job at once (they are requeued) and stops.</summary>
    public void StopNow()
    {
        lock (_lock)
        {
            Draining = true;
            foreach (var p in _processors)
            {
                p.Leave();
            }
        }
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        CheckDrained();
    }

    private void StartProcessor()
    {
        var processor = new Processor($"processor-{++_nextId}", _queue, _pipeline, _stop.Token, _logger);
        _processors.Add(processor);
        processor.Completion.ContinueWith(_ => OnProcessorExited(processor), TaskScheduler.Default);
    }

    private void OnProcessorExited(Processor processor)
    {
        lock (_lock)
        {
            _processors.Remove(processor);
            Processed += processor.Status.Processed;
        }
        if (processor.Completion.Exception?.InnerException is InvalidSettingException badSetting)
        {
            lock (_lock)
            {
                _badSetting ??= badSetting;
            }
            _logger.LogDebug("{Processor} stopped: {Error}", processor.Status.Id, badSetting.Message);
            StopNow();
            return;
        }
        CheckDrained();
    }

    private void CheckDrained()
    {
        lock (_lock)
        {
            if (Draining && _processors.Count == 0)
            {
                if (_badSetting is { } badSetting)
                {
                    _drained.TrySetException(badSetting);
                }
                else
                {
                    _drained.TrySetResult();
                }
            }
        }
    }
}
