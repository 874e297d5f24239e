using RabbitMQ.Client;
using Worker.Core.Jobs;

namespace Worker.Tests.Telemetry;

/// <summary>Puts travis payloads on a job queue as travis-hub does, with any AMQP headers (a traceparent, say).</summary>
internal sealed class AmqpJobPublisher : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _queue;

    private AmqpJobPublisher(IConnection connection, IChannel channel, string queue)
    {
        _connection = connection;
        _channel = channel;
        _queue = queue;
    }

    public static async Task<AmqpJobPublisher> StartAsync(Uri broker, string queue)
    {
        var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync("telemetry tests");
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        // Declared as the worker declares it (durable, classic, no arguments), so either may come first.
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        return new AmqpJobPublisher(connection, channel, queue);
    }

    public async Task<long> PublishAsync(long id, string yaml, IDictionary<string, object?>? headers = null)
    {
        var payload = JobFile.Parse($"id: {id}\n{yaml}", _queue);
        var properties = new BasicProperties { Persistent = true, ContentType = "application/json", Type = "job:test", Headers = headers };
        await _channel.BasicPublishAsync("", _queue, mandatory: true, properties, payload.ToUtf8Bytes());
        return payload.JobId;
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.CloseAsync();
        await _connection.DisposeAsync();
    }
}
