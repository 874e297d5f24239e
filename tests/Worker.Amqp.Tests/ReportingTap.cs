using System.Text.Json;
using RabbitMQ.Client;

namespace Worker.Amqp.Tests;

/// <summary>
/// What travis-hub and travis-logs would see: a durable queue of the test's own, bound to the
/// <c>reporting</c> exchange for states and log parts. Durable, so it keeps collecting across a
/// broker restart; read with basic.get so a lost connection of the tap itself loses nothing.
/// </summary>
public sealed class ReportingTap : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly string _queue;
    private readonly List<Reported> _seen = [];

    private ReportingTap(IConnection connection, string queue)
    {
        _connection = connection;
        _queue = queue;
    }

    /// <param name="shardedLogs">
    /// Also bound to <c>reporting.jobs.logs_sharded</c>: the only queue bound to that exchange, it
    /// gets every part sent there, as one shard of travis-logs' would get all of a job's.
    /// </param>
    public static async Task<ReportingTap> CreateAsync(Uri broker, bool shardedLogs = false)
    {
        var connection = await new ConnectionFactory { Uri = broker, NetworkRecoveryInterval = TimeSpan.FromMilliseconds(500) }.CreateConnectionAsync();
        var queue = "tap-" + Guid.NewGuid().ToString("N");
        await using var channel = await connection.CreateChannelAsync();
        await AmqpTopology.DeclareReportingAsync(channel, default);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(queue, AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey);
        await channel.QueueBindAsync(queue, AmqpNames.ReportingExchange, AmqpNames.LogRoutingKey);
        if (shardedLogs)
        {
            await AmqpTopology.DeclareShardedLogExchangeAsync(channel, default);
            await channel.QueueBindAsync(queue, AmqpNames.ShardedLogExchange, ""); // x-modulus-hash ignores binding keys
        }
        return new ReportingTap(connection, queue);
    }

    /// <summary>Everything reported about the job, in arrival order, once its finish state has arrived.</summary>
    public Task<IReadOnlyList<Reported>> FinishedAsync(long jobId, TimeSpan timeout) =>
        WaitAsync(jobId, seen => seen.Any(m => m.IsState && m.State is "passed" or "failed" or "errored" or "cancelled"), timeout);

    /// <summary>Reads until <paramref name="done"/> holds for the job's messages so far.</summary>
    public async Task<IReadOnlyList<Reported>> WaitAsync(long jobId, Func<IReadOnlyList<Reported>, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await ReadAvailableAsync();
            var mine = Of(jobId);
            if (done(mine))
            {
                return mine;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"job {jobId}: condition not met within {timeout}; seen: " +
                    string.Join(", ", mine.Select(m => m.IsLog ? $"log#{m.Number}" : m.State)));
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Takes in what has arrived since the last read.</summary>
    public Task RefreshAsync() => ReadAvailableAsync();

    public IReadOnlyList<Reported> Of(long jobId)
    {
        lock (_seen)
        {
            return _seen.Where(m => m.JobId == jobId).ToList();
        }
    }

    private async Task ReadAvailableAsync()
    {
        try
        {
            await using var channel = await _connection.CreateChannelAsync();
            while (await channel.BasicGetAsync(_queue, autoAck: false) is { } message)
            {
                using var doc = JsonDocument.Parse(message.Body.ToArray());
                var reported = new Reported(message.Exchange, message.RoutingKey, message.BasicProperties.Type,
                    message.BasicProperties.ContentType, message.BasicProperties.Persistent, message.BasicProperties.MessageId, doc.RootElement.Clone());
                lock (_seen)
                {
                    _seen.Add(reported);
                }
                await channel.BasicAckAsync(message.DeliveryTag, false);
            }
            await channel.CloseAsync();
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            // The broker is away (a test restarts it); the durable tap queue keeps collecting meanwhile.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var channel = await _connection.CreateChannelAsync();
            await channel.QueueDeleteAsync(_queue);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException)
        {
        }
        await _connection.DisposeAsync();
    }
}
