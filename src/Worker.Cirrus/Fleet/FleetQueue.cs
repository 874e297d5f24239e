using System.Text.Json;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Amqp;
using Worker.Core.Jobs;

namespace Worker.Cirrus.Fleet;

/// <summary>
/// The bridge's side of the fleet's AMQP: it puts task jobs on the job queue (confirmed, and
/// declared again should it be gone), sends <c>cancel_job</c> on <c>worker.commands</c>, and reads
/// the state updates of every job from a durable queue of its own bound to
/// <c>reporting</c>/<c>reporting.jobs.builds</c>, <c>cirrus-bridge.NAME</c>: updates that come
/// while the bridge is down wait there for its next start. An update is acked once handled.
/// </summary>
public sealed class FleetQueue : IAsyncDisposable
{
    private readonly AmqpOptions _options;
    private readonly string _jobQueue;
    private readonly ILogger _logger;
    private IConnection? _connection;
    private ConfirmedPublisher? _publisher;
    private IChannel? _watch;

    public FleetQueue(AmqpOptions options, string jobQueue, string bridgeName, ILogger logger)
    {
        _options = options;
        _jobQueue = jobQueue;
        _logger = logger;
        StateQueue = "cirrus-bridge." + bridgeName;
    }

    /// <summary>Where this bridge's state updates wait for it.</summary>
    public string StateQueue { get; }

    public async Task ConnectAsync(CancellationToken ct)
    {
        _connection = await new AmqpConnector(_options, "worker-cirrus-bridge", _logger).ConnectAsync(_options.Uri, "bridge", ct);
        await AmqpTopology.DeclareAsync(_connection, _jobQueue, _options.QueueType, ct);
        _publisher = new ConfirmedPublisher(_connection, _options.Outbox, "bridge", _logger);
    }

    /// <summary>Queues the job; completes when the broker confirmed it.</summary>
    public async Task QueueJobAsync(JobPayload payload, CancellationToken ct)
    {
        var message = OutgoingMessage.ToQueue(_jobQueue, WireFormat.Properties("job:test"), payload.ToUtf8Bytes(),
            (channel, t) => AmqpTopology.DeclareJobQueueAsync(channel, _jobQueue, _options.QueueType, t));
        await await Publisher.EnqueueAsync(message, ct);
    }

    /// <summary>travis's cancel command: the host running the job stops it.</summary>
    public async Task CancelJobAsync(long jobId, string reason, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["type"] = "cancel_job",
            ["job_id"] = jobId,
            ["source"] = "cirrus",
            ["reason"] = reason,
        });
        await await Publisher.EnqueueAsync(new OutgoingMessage(AmqpNames.CommandsExchange, "", WireFormat.Properties("cancel_job"), body), ct);
    }

    /// <summary>Hands each state update (job id, state) to <paramref name="handle"/>, and acks it once that returned.</summary>
    public async Task WatchStatesAsync(Func<long, string, Task> handle, CancellationToken ct)
    {
        var connection = _connection ?? throw new InvalidOperationException("not connected");
        _watch = await connection.CreateChannelAsync(cancellationToken: ct);
        await _watch.QueueDeclareAsync(StateQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
        await _watch.QueueBindAsync(StateQueue, AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey, cancellationToken: ct);
        await _watch.BasicQosAsync(0, 64, false, ct);
        var consumer = new AsyncEventingBasicConsumer(_watch);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            if (Read(delivery.Body) is { } update)
            {
                try
                {
                    await handle(update.JobId, update.State);
                }
                catch (Exception e)
                {
                    // Not acked: it comes again on the next start (or after the channel recovers).
                    _logger.LogError(e, "Handling the state {State} of job {JobId} failed", update.State, update.JobId);
                    return;
                }
            }
            await _watch.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await _watch.BasicConsumeAsync(StateQueue, autoAck: false, consumer, ct);
    }

    private ConfirmedPublisher Publisher => _publisher ?? throw new InvalidOperationException("not connected");

    private (long JobId, string State)? Read(ReadOnlyMemory<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id", out var id) && id.TryGetInt64(out var jobId) &&
                root.TryGetProperty("state", out var state) && state.ValueKind == JsonValueKind.String)
            {
                return (jobId, state.GetString()!);
            }
        }
        catch (JsonException e)
        {
            _logger.LogWarning("Ignoring a state update that is not JSON: {Error}", e.Message);
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_watch is not null)
        {
            await _watch.DisposeAsync();
        }
        if (_publisher is not null)
        {
            await _publisher.DisposeAsync();
        }
        if (_connection is not null)
        {
            try
            {
                await _connection.CloseAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e)
            {
                _logger.LogDebug("Closing the bridge connection: {Error}", e.Message);
            }
            _connection.Dispose();
        }
    }
}
