namespace Worker.Core.Jobs;

/// <summary>
/// A job and its conversation with whoever queued it. Each transition is reported once:
/// received, started, then exactly one of finish, requeue or dead-letter (which also acknowledge
/// the job to its queue), then ended once its machine is gone.
/// </summary>
public interface IJob
{
    /// <summary>What the pipeline runs.</summary>
    JobSpec Spec { get; }

    /// <summary>Whether the job can go back to its queue; false where the queue has no way back (a Cirrus task): a requeue verdict errors it instead.</summary>
    bool CanRequeue { get; }

    /// <summary>How often the job was requeued after infrastructure failures so far.</summary>
    int RequeueCount { get; }

    /// <summary>
    /// Whether the log of an attempt that ends in a requeue goes on in the job's next attempt (its
    /// parts numbered on from this one's, the final part the last attempt's): the pipeline then
    /// closes it without a final part. False: each attempt's log ends with a final part.
    /// </summary>
    bool RequeueContinuesLog => false;

    Task ReceivedAsync(CancellationToken ct);

    Task StartedAsync(string instanceId, CancellationToken ct);

    /// <param name="reason">Why, when the state is not the script's own result (a time limit, a refusal, a machine that failed).</param>
    Task FinishAsync(FinishState state, string? reason, CancellationToken ct);

    /// <summary>Gives the job back to the queue. <paramref name="counted"/> is false for requeues
    /// that are not the job's fault, such as a worker shutting down.</summary>
    Task RequeueAsync(string reason, bool counted, CancellationToken ct);

    /// <summary>
    /// Ends a job whose payload is at fault: it is errored, and the transport keeps the payload with
    /// <paramref name="reason"/> where unusable payloads go (AMQP's <c>QUEUE.dead</c>, the file queue's
    /// <c>dead.d</c>). A transport without such a place only reports it errored.
    /// </summary>
    Task DeadLetterAsync(string reason, CancellationToken ct) => FinishAsync(FinishState.Errored, reason, ct);

    /// <summary>
    /// Returns a job that was handed out but never received (a processor that listens to several
    /// sources got two at once) to its queue as it came, reporting nothing where the transport can
    /// (AMQP puts the message back untouched). Elsewhere an uncounted requeue.
    /// </summary>
    Task GiveBackAsync(CancellationToken ct) => RequeueAsync(GiveBackReason, counted: false, ct);

    /// <summary>Why a job given back was requeued, where its transport can't put it back untouched.</summary>
    const string GiveBackReason = "handed back before it was received: the processor took a job from another source";

    /// <summary>Opens where this job's numbered log parts go.</summary>
    Task<ILogPartSink> OpenLogAsync(CancellationToken ct);

    /// <summary>
    /// Called once, last, on every path: the job's result was reported and its machine, if it got
    /// one, is gone (a Cirrus task says <c>TaskStopped</c> here, never before).
    /// </summary>
    Task EndedAsync(CancellationToken ct);
}

/// <summary>
/// Receives a job's log parts in order, numbered from 0 without gaps; the last has <c>Final</c>,
/// unless the attempt was requeued and its log goes on (<see cref="IJob.RequeueContinuesLog"/>).
/// </summary>
public interface ILogPartSink
{
    ValueTask WritePartAsync(LogPart part, CancellationToken ct);
}

public readonly record struct LogPart(long JobId, int Number, string Content, bool Final);
