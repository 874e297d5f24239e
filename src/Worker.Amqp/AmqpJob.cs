using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Amqp;

/// <summary>
/// A job taken from the AMQP job queue. States and log parts go out through ordered, confirmed
/// outboxes; finishing or requeueing waits until the final log part and the last state are
/// confirmed, and only then acks the delivery. That settling runs to its end even when the
/// pipeline stops waiting (the broker may be away for longer than the teardown timeout), so what
/// was reported is never lost and the job is never acked before its result is safe.
/// </summary>
internal sealed class AmqpJob : JobBase
{
    private readonly AmqpJobQueue _queue;
    private readonly AmqpStateReporter _states;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly List<AmqpDelivery> _deliveries;
    private AmqpLogSink? _log;
    private bool _settled;
    private int _claimed;

    public AmqpJob(AmqpJobQueue queue, JobPayload payload, ReceivedMessage message, AmqpDelivery delivery, ILogger logger)
        : base(payload, message.RequeueCount)
    {
        _queue = queue;
        _logger = logger;
        _deliveries = [delivery];
        Message = message;
        // travis-scheduler's payloads have none: like travis-worker, each processing gets its own.
        RunUuid = payload.Uuid is { Length: > 0 } uuid ? uuid : Guid.NewGuid().ToString();
        _states = new AmqpStateReporter(queue.StatePublisher, payload, RunUuid);
    }

    /// <summary>
    /// This run's uuid, in its state updates' <c>meta.uuid</c> and its log parts' <c>uuid</c>: the
    /// payload's own, else a new one for this delivery (a requeue copy's next attempt gets another).
    /// </summary>
    public string RunUuid { get; }

    /// <summary>The message this job came in, as it came.</summary>
    public ReceivedMessage Message { get; }

    /// <summary>RabbitMQ delivered this message before and it was not acked (a worker or its connection was lost).</summary>
    public bool Redelivered => Message.Redelivered;

    /// <summary>
    /// Republished, the job goes on as a new message and its next attempt continues this one's log
    /// (travis-logs keeps one part per number and ends the log at the first final part). A reset
    /// (the hub strategy) ends each attempt's log, as travis-worker does.
    /// </summary>
    public override bool RequeueContinuesLog => _queue.Options.Requeue != AmqpOptions.Hub;

    /// <summary>Completes once the job's result is confirmed and its delivery acked.</summary>
    public Task? Settlement { get; private set; }

    /// <summary>
    /// Takes over a redelivery of this job's own message (its first delivery's channel was lost while
    /// it ran): the job is not run twice, and the redelivery is acked when this run is settled. The
    /// caller checks that it is the same message; a requeue copy is never adopted.
    /// </summary>
    /// <returns>Whether the redelivery came on a channel that holds one of this job's deliveries already.</returns>
    public bool Adopt(AmqpDelivery delivery)
    {
        lock (_lock)
        {
            if (!_settled)
            {
                var sameChannel = _deliveries.Any(d => d.Consumer == delivery.Consumer);
                _deliveries.Add(delivery);
                return sameChannel;
            }
        }
        _ = delivery.TryAckAsync(CancellationToken.None);
        return true;
    }

    /// <summary>The deliveries this run holds now: its own and any adopted redelivery.</summary>
    internal IReadOnlyList<AmqpDelivery> Deliveries
    {
        get
        {
            lock (_lock)
            {
                return [.. _deliveries];
            }
        }
    }

    /// <summary>
    /// True for whoever takes the job first: its processor, or the hand-back of a job left waiting
    /// for a processor still busy with its last machine (see <see cref="ConsumerSubscription"/>).
    /// </summary>
    public bool TryClaim() => Interlocked.Exchange(ref _claimed, 1) == 0;

    public bool IsClaimed => Volatile.Read(ref _claimed) != 0;

    /// <summary>Puts the message back on the queue untouched (not a requeue: the job never ran here).</summary>
    public async Task HandBackAsync()
    {
        foreach (var delivery in TakeDeliveries())
        {
            await delivery.TryRequeueAsync(CancellationToken.None);
        }
    }

    /// <summary>The message goes back to the head of the queue untouched, nothing reported: this worker never received the job.</summary>
    public override async Task GiveBackAsync(CancellationToken ct)
    {
        _queue.Forget(this);
        await HandBackAsync();
    }

    public override Task<ILogPartSink> OpenLogAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            _log ??= new AmqpLogSink(_queue.LogPublisher, Payload, RunUuid, Message.LogParts, holdFinal: _queue.LogPublisher == _queue.StatePublisher,
                sharded: _queue.Options.ShardedLogs);
            return Task.FromResult<ILogPartSink>(_log);
        }
    }

    protected override async Task OnReceivedAsync(CancellationToken ct)
    {
        if (Redelivered)
        {
            _logger.LogWarning("Job {JobId} was delivered again by RabbitMQ (an earlier run lost its worker or its connection); running it again", Payload.JobId);
        }
        var hold = _queue.Options.LongestHold(Payload.HardLimit);
        // Beyond the worker's own longest hold only: start-up has warned about that one already.
        if (_queue.ConsumerTimeoutInForce is var timeout && timeout > TimeSpan.Zero && hold > timeout && hold > _queue.Options.LongestHold())
        {
            _logger.LogWarning("Job {JobId} may hold its delivery for {Hold} (its hard limit {HardLimit}), longer than RabbitMQ's consumer timeout here ({Timeout}): " +
                "if it runs that long, RabbitMQ gives it to another worker while it runs", Payload.JobId, Durations.Format(hold),
                Durations.Format(Payload.HardLimit ?? _queue.Options.HardLimit), Durations.Format(timeout));
        }
        await _states.ReportAsync(AmqpNames.ReceiveType, "received", this, ct);
    }

    protected override async Task OnStartedAsync(string instanceId, CancellationToken ct)
    {
        _states.InstanceId = instanceId;
        await _states.ReportAsync(AmqpNames.StartType, "started", this, ct);
        AmqpLogSink? log;
        lock (_lock)
        {
            log = _log;
        }
        // Only once the started state is in the outbox: the part that carries the meta is then the
        // first one after it, even when a flush comes in between. The pipeline opens the log before the start.
        if (log is not null && StartedMeta() is { } meta)
        {
            log.JobStarted(meta);
        }
    }

    protected override Task OnFinishAsync(FinishState state, CancellationToken ct) =>
        SettleAsync("finish " + state.WireName(), state.WireName(), async () =>
        {
            var finalPart = await FinalLogPartAsync();
            var finish = await _states.ReportAsync(AmqpNames.FinishType, state.WireName(), this, CancellationToken.None);
            await finalPart;
            await finish;
        }).WaitAsync(ct);

    protected override Task OnDeadLetterAsync(string reason, CancellationToken ct) =>
        SettleAsync("dead-letter", FinishState.Errored.WireName(), async () =>
        {
            var finalPart = await FinalLogPartAsync();
            var finish = await _states.ReportAsync(AmqpNames.FinishType, FinishState.Errored.WireName(), this, CancellationToken.None);
            var deadLetter = await _queue.StatePublisher.EnqueueAsync(_queue.DeadLetter(Message, reason), CancellationToken.None);
            await finalPart;
            await finish;
            await deadLetter;
        }).WaitAsync(ct);

    protected override Task OnRequeueAsync(string reason, bool counted, CancellationToken ct) =>
        SettleAsync("requeue", FinishedJob.Requeued, async () =>
        {
            if (RequeueContinuesLog)
            {
                // Every part of this attempt is confirmed before the copy exists, so the next
                // attempt's parts, numbered on from these, can't overtake them.
                var (lastPart, parts) = await EndLogWithoutFinalAsync();
                await lastPart;
                await await _queue.StatePublisher.EnqueueAsync(Republished(counted, parts), CancellationToken.None);
            }
            else
            {
                var finalPart = await FinalLogPartAsync();
                _queue.LogPublisher.SendHeld();
                await finalPart;
                // travis: the reset state tells travis-hub to put the job back on the queue.
                await await _states.ReportAsync(AmqpNames.ResetType, "reset", this, CancellationToken.None);
            }
            _logger.LogInformation("Job {JobId} requeued ({Strategy}): {Reason}", Payload.JobId, _queue.Options.Requeue, reason);
        }).WaitAsync(ct);

    /// <summary>
    /// What travis-logs gets on the job's first log part after it started, for its time-to-first-log-line
    /// metric. None when the payload has no <c>job.queued_at</c> that reads as a time: travis-logs
    /// parses it unchecked (<c>Time.parse</c>), so a meta without one would raise there.
    /// </summary>
    private JobStartedMeta? StartedMeta() =>
        Payload.QueuedAt is null
            ? null
            : new JobStartedMeta(JobPayload.Str(Payload.Root["job"]?["queued_at"])!, Payload.RepositorySlug ?? "",
                Payload.QueueName is { Length: > 0 } queue ? queue : _queue.Name, _queue.Options.Infra);

    /// <summary>
    /// The payload again, for the job queue: the requeue count and the log parts sent so far in
    /// headers, and the state update count where this run left it, so travis-hub doesn't drop the
    /// next run's updates as stale. The copy gets a message id of its own, so no worker mistakes it
    /// for a redelivery of this one.
    /// </summary>
    /// <param name="counted">Whether this requeue counts against the job's cap.</param>
    /// <param name="logParts">How many log parts the job's attempts sent so far: the next attempt numbers its parts on from there.</param>
    private OutgoingMessage Republished(bool counted, int logParts)
    {
        var payload = Payload.Clone();
        if (payload.Root["meta"] is not JsonObject meta)
        {
            meta = new JsonObject();
            payload.Root["meta"] = meta;
        }
        meta["state_update_count"] = _states.Count;
        var headers = Message.Headers is { } original ? new Dictionary<string, object?>(original) : [];
        headers[AmqpNames.RequeueCountHeader] = RequeueCount + (counted ? 1 : 0);
        headers[AmqpNames.LogPartsHeader] = logParts;
        var properties = WireFormat.Properties(JobPayload.Str(Payload.Root["type"]) ?? "job:test", headers,
            messageId: $"{Payload.JobId}.copy.{Guid.NewGuid():N}");
        return OutgoingMessage.ToQueue(_queue.Name, properties, payload.ToUtf8Bytes(), _queue.DeclareQueuesAsync);
    }

    /// <summary>
    /// Puts the final log part in its outbox and returns its confirm. Logs on the states' channel
    /// reach the broker in order with them, so the finish state can follow at once; logs on a
    /// connection of their own are confirmed first, so the finish never overtakes them.
    /// </summary>
    private async Task<Task> FinalLogPartAsync()
    {
        AmqpLogSink? log;
        lock (_lock)
        {
            log = _log;
        }
        if (log is null)
        {
            return Task.CompletedTask;
        }
        var confirmed = await log.EnsureFinalAsync(CancellationToken.None);
        if (_queue.LogPublisher != _queue.StatePublisher)
        {
            await confirmed;
        }
        return confirmed;
    }

    /// <summary>
    /// Closes the log of an attempt that goes on in the job's next one (no final part) and returns
    /// the confirm of its last part and how many parts the job has sent so far.
    /// </summary>
    private async Task<(Task Confirmed, int Parts)> EndLogWithoutFinalAsync()
    {
        AmqpLogSink? log;
        lock (_lock)
        {
            log = _log;
        }
        return log is null ? (Task.CompletedTask, Message.LogParts) : await log.EndWithoutFinalAsync(CancellationToken.None);
    }

    /// <param name="outcome">What this host records the message ended in (see <see cref="FinishedJobs"/>).</param>
    private Task SettleAsync(string what, string outcome, Func<Task> report)
    {
        Settlement = SettleNowAsync();
        return Settlement;

        async Task SettleNowAsync()
        {
            var recorded = false;
            try
            {
                await report();
                if (_queue.BeforeAck is { } beforeAck)
                {
                    // Tests stop here, recorded and not acked, as a worker killed at that moment would be.
                    _queue.Finished.Add(Finished(outcome));
                    recorded = true;
                    await beforeAck(this);
                }
            }
            catch (Exception e)
            {
                // Only a closing worker gets here (its outboxes are gone): give the job back now.
                _logger.LogError(e, "Job {JobId}: could not {What}; giving the job back to the queue", Payload.JobId, what);
                foreach (var delivery in TakeDeliveries())
                {
                    await delivery.TryRequeueAsync(CancellationToken.None);
                }
                _queue.Forget(this);
                throw;
            }
            // The record is written once the ack is out (the file write is on the path of every job,
            // and the ack's round trip gates the next delivery): the client's write loop takes the ack
            // to the socket on a pool thread, which this one becomes by stepping behind it. A
            // redelivery to this host, which needs the broker to see this channel close, finds both
            // done; a worker killed now reruns the job only if killed in those microseconds.
            var acks = TakeDeliveries().Select(delivery => delivery.TryAckAsync(CancellationToken.None)).ToList();
            if (!recorded)
            {
                await new BehindQueuedWork();
                _queue.Finished.Add(Finished(outcome));
            }
            var acked = (await Task.WhenAll(acks)).Count(ok => ok);
            if (acked == 0)
            {
                _logger.LogWarning("Job {JobId}: its channel was lost before the ack; RabbitMQ delivers it again and it is then acked without a new run", Payload.JobId);
            }
            _queue.Forget(this);
        }
    }

    /// <param name="outcome">What this host records the message ended in (see <see cref="FinishedJobs"/>).</param>
    private FinishedJob Finished(string outcome) => new(Message.Identity.Key, Payload.JobId, outcome, _states.Count - 1, _states.InstanceId,
        ReceivedAt, StartedAt, FinishedAt, DateTimeOffset.UtcNow, RunUuid);

    private List<AmqpDelivery> TakeDeliveries()
    {
        lock (_lock)
        {
            _settled = true;
            var deliveries = _deliveries.ToList();
            _deliveries.Clear();
            return deliveries;
        }
    }
}
