using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Worker.Amqp;

/// <summary>
/// Declares what this worker publishes to and consumes from: the job queue and its dead-letter
/// queue (durable, classic or quorum), the durable topic exchange <c>reporting</c> with the queues
/// <c>reporting.jobs.builds</c> and <c>reporting.jobs.logs</c> bound to it, and the non-durable
/// fanout exchange <c>worker.commands</c>; with sharded logs, also the exchange
/// <c>reporting.jobs.logs_sharded</c>. Declaring is idempotent, so every worker does it.
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

    /// <summary>
    /// The exchange of sharded log parts, declared as travis-worker declares it (durable, no
    /// arguments): the shards are the broker's policy's to make, and an exchange declared with other
    /// properties would not match the one travis-logs' operators made.
    /// </summary>
    /// <exception cref="ShardingPluginMissingException">The broker has no x-modulus-hash exchange type.</exception>
    public static async Task DeclareShardedLogExchangeAsync(IChannel channel, CancellationToken ct)
    {
        try
        {
            await channel.ExchangeDeclareAsync(AmqpNames.ShardedLogExchange, AmqpNames.ShardedExchangeType, durable: true, autoDelete: false,
                cancellationToken: ct);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason is { ReplyCode: Constants.CommandInvalid } reason
            && reason.ReplyText.Contains(AmqpNames.ShardedExchangeType, StringComparison.Ordinal))
        {
            // RabbitMQ answers an unknown exchange type with COMMAND_INVALID, which closes the whole connection.
            throw new ShardingPluginMissingException(reason.ReplyText, e);
        }
    }
}

/// <summary>The broker refused the exchange type <c>x-modulus-hash</c>: its rabbitmq_sharding plugin is not enabled.</summary>
public sealed class ShardingPluginMissingException(string brokerReply, Exception inner)
    : Exception($"RabbitMQ has no exchange type {AmqpNames.ShardedExchangeType} ({brokerReply}): its {AmqpNames.ShardingPlugin} plugin is not enabled", inner);
