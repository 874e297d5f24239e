using System.Collections.Concurrent;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Worker.Amqp.Tests;

/// <summary>
/// What travis-hub does with a <c>reset</c> state under <c>WORKER_REQUEUE_STRATEGY=hub</c>: puts the
/// job on its queue again, as a new message. Listens on a queue of its own bound to the state updates.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _jobQueue;
    private readonly ConcurrentDictionary<long, byte[]> _payloads = new();
    private int _resets;

    private FakeHub(IConnection connection, IChannel channel, string jobQueue)
    {
        _connection = connection;
        _channel = channel;
        _jobQueue = jobQueue;
    }

    public int Resets => Volatile.Read(ref _resets);

    public static async Task<FakeHub> StartAsync(Uri broker, string jobQueue)
    {
        var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var hub = new FakeHub(connection, channel, jobQueue);
        await AmqpTopology.DeclareReportingAsync(channel, default);
        var queue = (await channel.QueueDeclareAsync("hub-" + Guid.NewGuid().ToString("N"), durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += hub.OnStateAsync;
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        return hub;
    }

    /// <summary>Puts a job on the queue the way the hub would, and remembers it for a reset.</summary>
    public async Task EnqueueAsync(Worker.Core.Jobs.JobPayload payload)
    {
        var body = payload.ToUtf8Bytes();
        _payloads[payload.JobId] = body;
        await PublishAsync(body);
    }

    private async Task OnStateAsync(object sender, BasicDeliverEventArgs state)
    {
        if (state.BasicProperties.Type != AmqpNames.ResetType)
        {
            return;
        }
        using var doc = System.Text.Json.JsonDocument.Parse(state.Body);
        if (_payloads.TryGetValue(doc.RootElement.GetProperty("id").GetInt64(), out var body))
        {
            Interlocked.Increment(ref _resets);
            await PublishAsync(body);
        }
    }

    private async Task PublishAsync(byte[] body)
    {
        var properties = new BasicProperties { ContentType = "application/json", Persistent = true, Type = "job:test" };
        await _channel.BasicPublishAsync("", _jobQueue, mandatory: false, properties, body);
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
