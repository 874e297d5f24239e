using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using Worker.Amqp;
using Worker.TestSupport;

namespace Worker.Tests;

/// <summary>The job queue's ready messages, which a host adds to the load it writes for the autoscaler; a real broker.</summary>
[Trait("Category", "Integration")]
public sealed class AmqpQueueDepthTests(ContainerAmqpBroker broker) : IClassFixture<ContainerAmqpBroker>
{
    [Fact]
    public async Task Ready_jobs_are_counted_without_those_a_consumer_holds_and_a_missing_queue_is_unknown()
    {
        var queue = "builds.depth-" + Guid.NewGuid().ToString("N")[..8];
        var factory = new ConnectionFactory { Uri = broker.HostUri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        for (var i = 0; i < 3; i++)
        {
            await channel.BasicPublishAsync("", queue, System.Text.Encoding.UTF8.GetBytes($"{{\"job\":{{\"id\":{i}}}}}"));
        }
        await using var depth = new AmqpQueueDepth(new AmqpOptions { Uri = broker.HostUri }, queue, NullLogger.Instance);
        await using var missing = new AmqpQueueDepth(new AmqpOptions { Uri = broker.HostUri }, queue + "-missing", NullLogger.Instance);

        await Eventually.TrueAsync(async () => await depth.ReadyAsync(CancellationToken.None) == 3, "three jobs are ready");
        var held = await channel.BasicGetAsync(queue, autoAck: false); // a worker holds one, unacked
        Assert.NotNull(held);

        Assert.Equal(2, await depth.ReadyAsync(CancellationToken.None));
        Assert.Null(await missing.ReadyAsync(CancellationToken.None));
        Assert.Equal(2, await depth.ReadyAsync(CancellationToken.None)); // a refused passive declare doesn't break the next read
    }
}
