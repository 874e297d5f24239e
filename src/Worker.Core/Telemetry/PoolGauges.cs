using System.Diagnostics.Metrics;
using Worker.Core.Pipeline;

namespace Worker.Core.Telemetry;

/// <summary>
/// Gauges read from the running processor pools when metrics are collected: the pool's size, its
/// idle processors and its host's circuit breaker. A pool is watched from its start until it is
/// drained.
/// </summary>
public static class PoolGauges
{
    private static readonly object Lock = new();
    private static readonly List<ProcessorPool> Pools = [];

    private static readonly ObservableGauge<int> Size = WorkerTelemetry.Meter.CreateObservableGauge(
        "worker.pool.size", () => Sum(p => p.Size), "{processor}", "Processors the pool is set to run (WORKER_POOL_SIZE, PUT /pool).");

    private static readonly ObservableGauge<int> Idle = WorkerTelemetry.Meter.CreateObservableGauge(
        "worker.processors.idle", () => Sum(p => p.Statuses.Count(s => s.JobId is null && s.Step == JobSteps.Idle)), "{processor}",
        "Processors waiting for a job (not running one, not paused by the circuit breaker).");

    private static readonly ObservableGauge<int> Breaker = WorkerTelemetry.Meter.CreateObservableGauge(
        "worker.host.breaker.state", BreakerStates, "{state}",
        "1 for the state the host's circuit breaker is in (state: closed, trial, open), 0 for the others.");

    /// <summary>Watches <paramref name="pool"/> until the returned handle is disposed.</summary>
    public static IDisposable Watch(ProcessorPool pool)
    {
        // The instruments exist before the first collection sees the pool.
        GC.KeepAlive(Size);
        GC.KeepAlive(Idle);
        GC.KeepAlive(Breaker);
        lock (Lock)
        {
            Pools.Add(pool);
        }
        return new Unwatch(pool);
    }

    private static int Sum(Func<ProcessorPool, int> read)
    {
        lock (Lock)
        {
            return Pools.Sum(read);
        }
    }

    private static IEnumerable<Measurement<int>> BreakerStates()
    {
        List<HostCircuitBreaker> breakers;
        lock (Lock)
        {
            breakers = Pools.Select(p => p.Breaker).OfType<HostCircuitBreaker>().ToList();
        }
        foreach (var breaker in breakers)
        {
            var current = breaker.State;
            foreach (var state in Enum.GetValues<BreakerState>())
            {
                yield return new Measurement<int>(state == current ? 1 : 0,
                    new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
            }
        }
    }

    private sealed class Unwatch(ProcessorPool pool) : IDisposable
    {
        public void Dispose()
        {
            lock (Lock)
            {
                Pools.Remove(pool);
            }
        }
    }
}
