using Worker.Core.Pipeline;

namespace Worker.Http;

/// <summary>What <c>/status</c> answers: the pool and what each processor is doing, so an operator sees where a job hangs.</summary>
public sealed record WorkerStatus(
    string Host,
    string Queue,
    bool QueueConnected,
    int PoolSize,
    bool Running,
    bool Draining,
    long Processed,
    IReadOnlyList<ProcessorState> Processors,
    BackendState? Backend)
{
    public static WorkerStatus Of(ProcessorPool pool, string host) => new(
        host,
        pool.Queue.Name,
        pool.Queue.IsConnected,
        pool.Size,
        pool.Running,
        pool.Draining,
        pool.Processed,
        [.. pool.Statuses.Select(s => new ProcessorState(s.Id, s.JobId, s.Step, s.StepSince))],
        pool.Breaker is { } b ? new BackendState(b.State.ToString().ToLowerInvariant(), b.TakingJobs, b.LastFailure, b.BrokenSince) : null);
}

/// <summary>The backend as this host's circuit breaker sees it: closed (works), open (broken, probed) or trial (taking jobs again after a probe).</summary>
public sealed record BackendState(string Breaker, bool TakingJobs, string? LastFailure, DateTimeOffset? BrokenSince);

/// <summary>One processor in <c>/status</c>: its id, its job (null when idle) and the step it is in since when.</summary>
public sealed record ProcessorState(string Id, long? JobId, string Step, DateTimeOffset? StepSince);
