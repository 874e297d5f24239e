using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Worker.Core.Queues;

namespace Worker.Amqp;

/// <summary>
/// The ready messages of the job queue, read with a passive declare (which never creates the queue or
/// changes its arguments) on a connection of its own, so it never disturbs the consumers.
/// </summary>
public sealed class AmqpQueueDepth(AmqpOptions options, string queue, ILogger logger) : IQueueDepth, IAsyncDisposable
{
    private readonly AmqpConnector _connector = new(options, "worker queue depth", logger);
    private readonly SemaphoreSlim _lock = new(1, 1);
    private IConnection? _connection;

    public async Task<long?> ReadyAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            _connection ??= await _connector.ConnectOnceAsync(options.Uri, "queue depth", ct);
            await using var channel = await _connection.CreateChannelAsync(cancellationToken: ct);
            var declared = await channel.QueueDeclarePassiveAsync(queue, ct);
            return declared.MessageCount;
        }
        catch (Exception e) when (e is OperationInterruptedException or BrokerUnreachableException or AlreadyClosedException or IOException)
        {
            // The queue is not there yet, or the broker is away: the load is then told without the backlog.
            logger.LogDebug(e, "Could not read the depth of queue {Queue}", queue);
            return null;
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
        _lock.Dispose();
    }
}
