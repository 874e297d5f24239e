using RabbitMQ.Client;

namespace Worker.Amqp;

/// <summary>
/// Declares what this worker publishes to and consumes from: the job queue and its dead-letter
/// queue (durable, classic or quorum), the durable topic exchange <c>reporting</c> with the queues
/// <c>reporting.jobs.builds</c> and <c>reporting.jobs.logs</c> bound to it, and the non-durable
/// fanout exchange <c>worker.commands</c>. Declaring is idempotent, so every worker does it.
/// </summary>
public static class AmqpTopology
{
    public static async Task DeclareAsync(IConnection connection, string jobQueue, string queueType, CancellationToken ct)
    {
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await DeclareJobQueueAsync(channel, jobQueue, queueType, ct);
        await DeclareReportingAsync(channel, ct);
        await channel.ExchangeDeclareAsync(AmqpNames.CommandsExchange, ExchangeType.Fanout, durable: false, autoDelete: false, cancellationToken: ct);
        await channel.CloseAsync(ct);
    }

    public static async Task DeclareJobQueueAsync(IChannel channel, string jobQueue, string queueType, CancellationToken ct)
    {
        // Classic queues are declared without arguments, as travis-worker does, so existing ones still match.
        var arguments = queueType == "quorum" ? new Dictionary<string, object?> { ["x-queue-type"] = "quorum" } : null;
        await channel.QueueDeclareAsync(jobQueue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
        await channel.QueueDeclareAsync(AmqpNames.DeadLetterQueue(jobQueue), durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
    }

    public static async Task DeclareReportingAsync(IChannel channel, CancellationToken ct)
    {
        await channel.ExchangeDeclareAsync(AmqpNames.ReportingExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: ct);
        foreach (var key in new[] { AmqpNames.StateRoutingKey, AmqpNames.LogRoutingKey })
        {
            await channel.QueueDeclareAsync(key, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
            await channel.QueueBindAsync(key, AmqpNames.ReportingExchange, key, cancellationToken: ct);
        }
    }
}
