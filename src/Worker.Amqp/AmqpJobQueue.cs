using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Queues;

namespace Worker.Amqp;

/// <summary>
/// The AMQP job queue, wire-compatible with travis-worker. Each <see cref="ReceiveAsync"/> (one per
/// processor) has its own channel and consumer: prefetch 1, manual ack, <c>x-priority</c>. A
/// payload that can't be used goes to <c>QUEUE.dead</c> with the reason in <c>x-worker-error</c>
/// and is acked. The connections recover by themselves; the first connect is retried until it works.
/// </summary>
public sealed class AmqpJobQueue : IJobQueue
{
    private readonly AmqpConnector _connector;
    private readonly AmqpCanceller _canceller;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private readonly object _lock = new();
    private readonly Dictionary<long, List<AmqpJob>> _running = []; // by job id: a requeue copy may arrive while its original settles
    private IConnection? _connection;
    private IConnection? _logConnection;
    private int _disposed;
    private ConfirmedPublisher? _statePublisher;
    private ConfirmedPublisher? _logPublisher;

    /// <param name="finished">This host's record of finished jobs; null: one in memory only.</param>
    public AmqpJobQueue(AmqpOptions options, string name, JobCancellations cancellations, ILoggerFactory loggerFactory, string clientName = "worker",
        FinishedJobs? finished = null)
    {
        Options = options;
        Name = name;
        Finished = finished ?? new FinishedJobs(null, loggerFactory.CreateLogger<FinishedJobs>());
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<AmqpJobQueue>();
        _connector = new AmqpConnector(options, clientName, _logger);
        _canceller = new AmqpCanceller(cancellations, _logger);
    }

    public string Name { get; }
    public AmqpOptions Options { get; }

    /// <summary>The messages this host finished lately, so a redelivery of one is acked instead of run again.</summary>
    public FinishedJobs Finished { get; }
    public bool IsConnected => _connection?.IsOpen == true;

    internal ConfirmedPublisher StatePublisher => _statePublisher ?? throw new InvalidOperationException("the AMQP queue is not started");
    internal ConfirmedPublisher LogPublisher => _logPublisher ?? throw new InvalidOperationException("the AMQP queue is not started");

    public Task ConnectAsync(CancellationToken ct) => StartAsync(ct);

    /// <summary>Connects (retrying until it works or <paramref name="ct"/> fires), declares the topology and listens for cancel commands. Idempotent.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        await _startGate.WaitAsync(ct);
        try
        {
            if (_connection is not null)
            {
                return;
            }
            var connection = await _connector.ConnectAsync(Options.Uri, "jobs", ct);
            IConnection? logConnection = null;
            try
            {
                await AmqpTopology.DeclareAsync(connection, Name, Options.QueueType, ct);
                logConnection = Options.LogsUri is { } logsUri ? await _connector.ConnectAsync(logsUri, "logs", ct) : connection;
                if (logConnection != connection)
                {
                    await using var channel = await logConnection.CreateChannelAsync(cancellationToken: ct);
                    await AmqpTopology.DeclareReportingAsync(channel, ct);
                }
                if (Options.ShardedLogs)
                {
                    await DeclareShardedLogExchangeAsync(logConnection, ct);
                }
                await _canceller.StartAsync(connection, ct);
                _statePublisher = new ConfirmedPublisher(connection, Options.Outbox, logConnection == connection ? "state and log" : "state", _loggerFactory.CreateLogger<ConfirmedPublisher>());
                // One channel for states and logs keeps a job's final log part ahead of its finish state
                // without waiting for its confirm; logs on their own connection need a publisher of their own.
                _logPublisher = logConnection == connection
                    ? _statePublisher
                    : new ConfirmedPublisher(logConnection, Options.Outbox, "log", _loggerFactory.CreateLogger<ConfirmedPublisher>());
                _logConnection = logConnection;
                _connection = connection;
                CheckConsumerTimeout(BrokerVersion.Of(connection));
            }
            catch
            {
                if (logConnection is not null && logConnection != connection)
                {
                    await logConnection.DisposeAsync();
                }
                await connection.DisposeAsync();
                throw;
            }
            _logger.LogInformation("Connected to RabbitMQ {Host}; consuming {Queue}", Options.Uri.Host, Name);
        }
        finally
        {
            _startGate.Release();
        }
    }

    /// <summary>
    /// The sharded logs' exchange, on the connection the parts go over. A broker without the
    /// sharding plugin can route none of them, and retrying won't help until someone enables it:
    /// the worker stops as it does for a bad setting, with one line naming the setting and the plugin.
    /// </summary>
    private async Task DeclareShardedLogExchangeAsync(IConnection logConnection, CancellationToken ct)
    {
        var broker = Options.LogsUri ?? Options.Uri;
        await using var channel = await logConnection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            await AmqpTopology.DeclareShardedLogExchangeAsync(channel, ct);
        }
        catch (ShardingPluginMissingException)
        {
            var (variable, value) = Options.ShardedLogsSetBy;
            throw new InvalidSettingException(variable, value,
                $"RabbitMQ at {broker.Host} has no exchange type {AmqpNames.ShardedExchangeType} for {AmqpNames.ShardedLogExchange}: " +
                $"enable its {AmqpNames.ShardingPlugin} plugin (rabbitmq-plugins enable {AmqpNames.ShardingPlugin}), or set it to false");
        }
    }

    /// <summary>What each consumer asks the broker for as its delivery timeout; null where the broker can't take it.</summary>
    internal TimeSpan? ConsumerTimeoutToAsk { get; private set; }

    /// <summary>How long the broker lets a job hold its delivery unacked here; zero: as long as it likes.</summary>
    internal TimeSpan ConsumerTimeoutInForce => ConsumerTimeoutToAsk ?? Options.BrokerConsumerTimeout;

    /// <summary>
    /// RabbitMQ (3.8.15 and later) closes a channel whose delivery stays unacked past its consumer
    /// timeout and gives the job to another worker while the first run goes on. A broker that takes
    /// a timeout per consumer (3.12+) is asked for as long as a job here may hold its delivery; an
    /// older one must be configured for it, and the operator is told when it is not.
    /// </summary>
    private void CheckConsumerTimeout(Version? version)
    {
        var hold = Options.LongestHold();
        if (BrokerVersion.TakesConsumerTimeout(version))
        {
            ConsumerTimeoutToAsk = hold;
            return;
        }
        var timeout = Options.BrokerConsumerTimeout;
        if (timeout > TimeSpan.Zero && hold > timeout)
        {
            _logger.LogWarning(
                "RabbitMQ {Version} closes a channel whose delivery stays unacked past its consumer_timeout (WORKER_AMQP_CONSUMER_TIMEOUT={Timeout}), " +
                "and a job here may hold its delivery for {Hold} (WORKER_HARD_TIMEOUT plus the startup, upload and teardown timeouts): such a job would run a second time elsewhere. " +
                "Set consumer_timeout = {Milliseconds} (or more) in rabbitmq.conf and WORKER_AMQP_CONSUMER_TIMEOUT to match, or use RabbitMQ 3.12+, which this worker asks per consumer",
                version?.ToString() ?? "(version unknown)", Durations.Format(timeout), Durations.Format(hold), (long)hold.TotalMilliseconds);
        }
    }

    public async IAsyncEnumerable<IJob> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await StartAsync(ct);
        var channel = await _connection!.CreateChannelAsync(cancellationToken: ct);
        var consumerChannel = new ConsumerChannel(channel, _connection);
        // Synchronous continuations: the processor waiting here takes the job on the delivering
        // thread, one thread hop less per job (with prefetch 1 nothing else waits behind it).
        // Null is a wake-up: the consumer stepped aside and must consume again before the next read.
        var inbox = System.Threading.Channels.Channel.CreateUnbounded<AmqpJob?>(
            new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
        try
        {
            // Declared again by each processor, so one whose consumer the broker cancelled (queue deleted) serves again.
            await AmqpTopology.DeclareJobQueueAsync(channel, Name, Options.QueueType, ct);
            await channel.BasicQosAsync(0, 1, false, ct);
            var consumer = new JobConsumer(channel);
            _ = consumer.BrokerCancelled.ContinueWith(
                _ => inbox.Writer.TryComplete(new InvalidOperationException($"RabbitMQ cancelled this worker's consumer of {Name}; subscribing again")),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            _ = consumerChannel.ClosedForGood.ContinueWith(
                closed => inbox.Writer.TryComplete(new InvalidOperationException(
                    $"RabbitMQ closed this processor's channel ({closed.Result.ReplyCode} {closed.Result.ReplyText}); opening a new one")),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            var subscription = new ConsumerSubscription(channel, Name, Options.Priority, ConsumerTimeoutToAsk, consumer, _logger);
            consumer.ReceivedAsync += (_, delivery) => OnDeliveryAsync(consumerChannel, delivery, inbox.Writer, subscription);
            while (!ct.IsCancellationRequested)
            {
                AmqpJob? job = null;
                try
                {
                    await subscription.EnsureConsumingAsync(ct);
                    job = await inbox.Reader.ReadAsync(ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                catch (System.Threading.Channels.ChannelClosedException e) when (e.InnerException is { } reason)
                {
                    throw reason; // the processor logs it and subscribes again
                }
                if (job is null || !job.TryClaim())
                {
                    continue; // a wake-up, or a job that waited too long and went back to the queue
                }
                yield return job;
            }
        }
        finally
        {
            // Closing the channel gives back whatever was delivered but not handed out.
            inbox.Writer.TryComplete();
            await channel.CloseQuietlyAsync(_logger, "a consumer channel");
            while (inbox.Reader.TryRead(out var unused))
            {
                if (unused is not null)
                {
                    Forget(unused);
                }
            }
        }
    }

    /// <summary>For tests: runs once a job's result is confirmed, before its deliveries are acked.</summary>
    internal Func<AmqpJob, Task>? BeforeAck { get; set; }

    /// <summary>For tests: called with the job id of every job message delivered here.</summary>
    internal Action<long>? Delivered { get; set; }

    private async Task OnDeliveryAsync(ConsumerChannel channel, BasicDeliverEventArgs args, System.Threading.Channels.ChannelWriter<AmqpJob?> inbox,
        ConsumerSubscription subscription)
    {
        var delivery = new AmqpDelivery(channel, args.DeliveryTag, args.Redelivered);
        var message = ReceivedMessage.From(args);
        JobPayload payload;
        try
        {
            payload = JobPayload.Parse(message.Body);
            AmqpTelemetry.CarryTraceContext(payload, message.Headers);
        }
        catch (Exception e)
        {
            // Anything the payload makes the parser throw is the payload's fault, not a reason to hold it.
            await DeadLetterUnreadableAsync(message, delivery, e.Message);
            return;
        }
        Delivered?.Invoke(payload.JobId);
        AmqpJob job;
        lock (_lock)
        {
            // Only a redelivery of the very message a run holds is that run's: a requeue copy of
            // the job, delivered here before its original settled, is a new message and runs anew.
            if (message.Redelivered && Running(payload.JobId).FirstOrDefault(r => r.Message.Identity == message.Identity) is { } running)
            {
                if (!running.Adopt(delivery))
                {
                    // The delivery fills this consumer's prefetch until that run ends, which may take
                    // hours: a fresh consumer on the same channel lets this processor take jobs meanwhile.
                    _ = subscription.RenewAsync();
                }
                return;
            }
            if (message.Redelivered && Finished.Find(message.Identity.Key) is { } finished)
            {
                _ = SettleAgainAsync(payload, finished, delivery);
                return;
            }
            job = new AmqpJob(this, payload, message, delivery, _logger);
            if (!_running.TryGetValue(payload.JobId, out var runs))
            {
                _running[payload.JobId] = runs = [];
            }
            runs.Add(job);
        }
        inbox.TryWrite(job);
        // A processor waiting for it has taken it already, on this thread (synchronous continuations).
        if (!job.IsClaimed)
        {
            _ = HandBackIfLeftWaitingAsync(job, subscription, inbox);
        }
    }

    /// <summary>
    /// A redelivery of a message this host finished (its ack was lost): its finish state is sent
    /// again, as it was, in case it was lost with the ack, and the delivery is acked without a run.
    /// A requeued one is only acked: its copy is on the queue.
    /// </summary>
    private async Task SettleAgainAsync(JobPayload payload, FinishedJob finished, AmqpDelivery delivery)
    {
        _logger.LogWarning("Job {JobId} was delivered again after this host {Outcome} it (its ack was lost); acking it without a new run",
            payload.JobId, finished.Outcome == FinishedJob.Requeued ? "requeued" : "finished");
        try
        {
            if (finished.Outcome != FinishedJob.Requeued)
            {
                var finish = WireFormat.StateUpdate(AmqpNames.FinishType, finished.Outcome, payload, finished.Uuid ?? payload.Uuid, finished.StateUpdateCount, finished.InstanceId,
                    finished.ReceivedAt, finished.StartedAt, finished.FinishedAt);
                await await StatePublisher.EnqueueAsync(finish, CancellationToken.None);
            }
            await delivery.TryAckAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Job {JobId}: could not send its finish state again; giving the redelivery back to the queue", payload.JobId);
            await delivery.TryRequeueAsync(CancellationToken.None);
        }
    }

    private List<AmqpJob> Running(long jobId) => _running.TryGetValue(jobId, out var runs) ? runs : [];

    /// <summary>For tests: the runs of a job this worker holds now.</summary>
    internal IReadOnlyList<AmqpJob> RunsOf(long jobId)
    {
        lock (_lock)
        {
            return [.. Running(jobId)];
        }
    }

    /// <summary>A payload that can't be read goes to the dead letters with the reason, then is acked; should that fail, it goes back to the queue.</summary>
    private async Task DeadLetterUnreadableAsync(ReceivedMessage message, AmqpDelivery delivery, string reason)
    {
        try
        {
            await await StatePublisher.EnqueueAsync(DeadLetter(message, reason), CancellationToken.None);
            await delivery.TryAckAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Could not dead-letter a message from {Queue}; giving it back to the queue", Name);
            await delivery.TryRequeueAsync(CancellationToken.None);
        }
    }

    /// <summary>A job its processor has not taken after <see cref="AmqpOptions.HandBackAfter"/> goes back to the queue (see <see cref="ConsumerSubscription"/>).</summary>
    private async Task HandBackIfLeftWaitingAsync(AmqpJob job, ConsumerSubscription subscription, System.Threading.Channels.ChannelWriter<AmqpJob?> inbox)
    {
        await Task.Delay(Options.HandBackAfter);
        if (!job.TryClaim())
        {
            return;
        }
        _logger.LogInformation("Job {JobId} waited {Wait} for this worker's processor, still busy with its last machine; giving it back to the queue",
            job.Spec.JobId, Options.HandBackAfter);
        Forget(job);
        await subscription.StepAsideAsync(job);
        inbox.TryWrite(null);
    }

    /// <summary>The job's run is over (its message, if it was finished, is in <see cref="Finished"/>).</summary>
    internal void Forget(AmqpJob job)
    {
        lock (_lock)
        {
            if (_running.TryGetValue(job.Spec.JobId, out var runs) && runs.Remove(job) && runs.Count == 0)
            {
                _running.Remove(job.Spec.JobId);
            }
        }
    }

    /// <summary>The message as it came, for <c>QUEUE.dead</c>, with the reason in <c>x-worker-error</c>.</summary>
    internal OutgoingMessage DeadLetter(ReceivedMessage message, string reason)
    {
        _logger.LogWarning("Dead-lettering a message from {Queue} to {DeadQueue}: {Reason}", Name, AmqpNames.DeadLetterQueue(Name), reason);
        Core.Telemetry.WorkerMetrics.DeadLettered("amqp");
        var headers = message.Headers is { } original ? new Dictionary<string, object?>(original) : [];
        headers[AmqpNames.ErrorHeader] = reason;
        var properties = new BasicProperties
        {
            ContentType = message.ContentType,
            Type = message.Type,
            MessageId = message.MessageId,
            DeliveryMode = DeliveryModes.Persistent,
            Headers = headers,
        };
        return OutgoingMessage.ToQueue(AmqpNames.DeadLetterQueue(Name), properties, message.Body, DeclareQueuesAsync);
    }

    /// <summary>
    /// Declares the job queue and its dead letters again, for a requeue copy or a dead letter the
    /// broker returned because its queue was gone: dropped, it would have been a job lost.
    /// </summary>
    internal Task DeclareQueuesAsync(IChannel channel, CancellationToken ct) => AmqpTopology.DeclareJobQueueAsync(channel, Name, Options.QueueType, ct);

    /// <summary>
    /// Waits (up to <see cref="AmqpOptions.CloseTimeout"/>) until the broker has confirmed every state
    /// and log part handed in, so no reported result is lost, then closes the channels and the
    /// connections. A processor's own channel, and the acks on it, closed when it stopped receiving.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        using (var patience = new CancellationTokenSource(Options.CloseTimeout))
        {
            try
            {
                foreach (var publisher in new[] { _statePublisher, _logPublisher }.OfType<ConfirmedPublisher>().Distinct())
                {
                    await publisher.WhenEmptyAsync(patience.Token);
                }
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Closing the AMQP queue with messages the broker has not confirmed after {Timeout}; their jobs were not acked and are delivered again",
                    Options.CloseTimeout);
            }
        }
        await _canceller.DisposeAsync();
        if (_statePublisher is not null)
        {
            await _statePublisher.DisposeAsync();
        }
        if (_logPublisher is not null && _logPublisher != _statePublisher)
        {
            await _logPublisher.DisposeAsync();
        }
        if (_logConnection is not null && _logConnection != _connection)
        {
            await _logConnection.CloseQuietlyAsync(_logger, "the logs connection");
        }
        if (_connection is not null)
        {
            await _connection.CloseQuietlyAsync(_logger, "the jobs connection");
        }
        Finished.Dispose();
        _startGate.Dispose();
    }
}
