namespace Worker.Core.Jobs;

/// <summary>
/// Guards the order and uniqueness of a job's transitions so no transport can report a state
/// twice or after the job was finished. Transports implement the <c>On*</c> hooks.
/// </summary>
public abstract class JobBase : IJob
{
    private int _received;
    private int _started;
    private int _ended;

    protected JobBase(JobPayload payload, int requeueCount)
        : this(payload, requeueCount, null)
    {
    }

    /// <param name="script">The job's script when it came with the job (job-board's, made by travis-build); null: the worker's generator makes it from the payload.</param>
    protected JobBase(JobPayload payload, int requeueCount, Scripts.IJobScript? script)
    {
        Payload = payload;
        Spec = script is null ? JobSpec.Of(payload) : JobSpec.Of(payload) with { Script = script };
        RequeueCount = requeueCount;
    }

    public JobPayload Payload { get; }
    public JobSpec Spec { get; }
    public bool CanRequeue => true;
    public int RequeueCount { get; }
    public virtual bool RequeueContinuesLog => false;
    public DateTimeOffset? ReceivedAt { get; private set; }
    public DateTimeOffset? StartedAt { get; private set; }
    public DateTimeOffset? FinishedAt { get; private set; }
    public FinishState? FinalState { get; private set; }
    public bool Ended => Volatile.Read(ref _ended) != 0;

    public Task ReceivedAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _received, 1) != 0 || Ended)
        {
            return Task.CompletedTask;
        }
        ReceivedAt = Now();
        return OnReceivedAsync(ct);
    }

    public Task StartedAsync(string instanceId, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0 || Ended)
        {
            return Task.CompletedTask;
        }
        StartedAt = Now();
        return OnStartedAsync(instanceId, ct);
    }

    public Task FinishAsync(FinishState state, string? reason, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            throw new InvalidOperationException($"job {Payload.JobId} was already finished or requeued");
        }
        FinishedAt = Now();
        FinalState = state;
        return OnFinishAsync(state, ct);
    }

    public Task RequeueAsync(string reason, bool counted, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            throw new InvalidOperationException($"job {Payload.JobId} was already finished or requeued");
        }
        return OnRequeueAsync(reason, counted, ct);
    }

    public Task DeadLetterAsync(string reason, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            throw new InvalidOperationException($"job {Payload.JobId} was already finished or requeued");
        }
        FinishedAt = Now();
        FinalState = FinishState.Errored;
        return OnDeadLetterAsync(reason, ct);
    }

    public virtual Task GiveBackAsync(CancellationToken ct) =>
        RequeueAsync(IJob.GiveBackReason, counted: false, ct);

    public abstract Task<ILogPartSink> OpenLogAsync(CancellationToken ct);

    /// <summary>A travis job's conversation is over with its finish, requeue or dead letter.</summary>
    public Task EndedAsync(CancellationToken ct) => Task.CompletedTask;

    protected abstract Task OnReceivedAsync(CancellationToken ct);
    protected abstract Task OnStartedAsync(string instanceId, CancellationToken ct);
    protected abstract Task OnFinishAsync(FinishState state, CancellationToken ct);
    protected abstract Task OnRequeueAsync(string reason, bool counted, CancellationToken ct);

    /// <summary>Where the transport has no place for unusable payloads, the job is only reported errored.</summary>
    protected virtual Task OnDeadLetterAsync(string reason, CancellationToken ct) => OnFinishAsync(FinishState.Errored, ct);

    /// <summary>Whole seconds, as travis-hub expects RFC 3339 timestamps.</summary>
    protected static DateTimeOffset Now()
    {
        var now = DateTimeOffset.UtcNow;
        return new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }
}
