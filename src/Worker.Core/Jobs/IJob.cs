namespace Worker.Core.Jobs;

/// <summary>
/// A job and its conversation with whoever queued it. Each transition is reported once:
/// received, started, then exactly one of finish, requeue or dead-letter (which also acknowledge
/// the job to its queue).
/// </summary>
public interface IJob
{
    JobPayload Payload { get; }

    /// <summary>How often the job was requeued after infrastructure failures so far.</summary>
    int RequeueCount { get; }

    Task ReceivedAsync(CancellationToken ct);

    Task StartedAsync(string instanceId, CancellationToken ct);

    Task FinishAsync(FinishState state, CancellationToken ct);

    /// <summary>Gives the job back to the queue. <paramref name="counted"/> is false for requeues
    /// that are not the job's fault, such as a worker shutting down.</summary>
    Task RequeueAsync(string reason, bool counted, CancellationToken ct);

    /// <summary>
    /// Ends a job whose payload is at fault: it is errored, and the transport keeps the payload with
    /// <paramref name="reason"/> where unusable payloads go (AMQP's <c>QUEUE.dead</c>, the file queue's
    /// <c>dead.d</c>). A transport without such a place only reports it errored.
    /// </summary>
    Task DeadLetterAsync(string reason, CancellationToken ct) => FinishAsync(FinishState.Errored, ct);

    /// <summary>Opens where this job's numbered log parts go.</summary>
    Task<ILogPartSink> OpenLogAsync(CancellationToken ct);
}

/// <summary>Receives a job's log parts in order, numbered from 0 without gaps; the last has <c>Final</c>.</summary>
public interface ILogPartSink
{
    ValueTask WritePartAsync(LogPart part, CancellationToken ct);
}

public readonly record struct LogPart(long JobId, int Number, string Content, bool Final);
