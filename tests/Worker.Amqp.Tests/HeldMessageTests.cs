using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// A message handed in to be held (a job's final log part, waiting for its finish state) stays in
/// the outbox until the next message goes, then both go in their order; one that nothing follows
/// goes when asked to.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HeldMessageTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task A_held_message_waits_for_the_next_one_and_they_arrive_in_order()
    {
        var queue = Broker.NewQueue("held");
        await using var connection = await new ConnectionFactory { Uri = broker.Uri }.CreateConnectionAsync();
        await DeclareAsync(connection, queue);
        await using var publisher = await ReadyPublisherAsync(connection, queue);

        var held = await publisher.EnqueueAsync(Message(queue, "first"), sendNow: false, CancellationToken.None);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.False(held.IsCompleted, "a held message is not sent on its own");
        Assert.Equal(1u, await Broker.CountAsync(broker.Uri, queue)); // only the first, sent before

        var next = await publisher.EnqueueAsync(Message(queue, "second"), CancellationToken.None);
        await Task.WhenAll(held, next).WaitAsync(Eventually.DefaultPatience);

        var arrived = await Broker.DrainAsync(broker.Uri, queue);
        Assert.Equal(["ready", "first", "second"], arrived.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
    }

    [Fact]
    public async Task A_held_message_that_nothing_follows_goes_when_asked()
    {
        var queue = Broker.NewQueue("held-alone");
        await using var connection = await new ConnectionFactory { Uri = broker.Uri }.CreateConnectionAsync();
        await DeclareAsync(connection, queue);
        await using var publisher = await ReadyPublisherAsync(connection, queue);

        var held = await publisher.EnqueueAsync(Message(queue, "alone"), sendNow: false, CancellationToken.None);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.False(held.IsCompleted, "a held message is not sent on its own");
        publisher.SendHeld();

        await held.WaitAsync(Eventually.DefaultPatience);
        Assert.Equal(["ready", "alone"], (await Broker.DrainAsync(broker.Uri, queue)).Select(m => Encoding.UTF8.GetString(m.Body.Span)));
    }

    /// <summary>A publisher whose channel is open and idle: a channel (re)opened sends everything waiting, held or not.</summary>
    [Fact]
    public async Task Waiting_for_the_outbox_to_empty_sends_a_held_message()
    {
        var queue = Broker.NewQueue("held-closing");
        await using var connection = await new ConnectionFactory { Uri = broker.Uri }.CreateConnectionAsync();
        await DeclareAsync(connection, queue);
        await using var publisher = await ReadyPublisherAsync(connection, queue);

        var held = await publisher.EnqueueAsync(Message(queue, "last"), sendNow: false, CancellationToken.None);
        await publisher.WhenEmptyAsync(CancellationToken.None).WaitAsync(Eventually.DefaultPatience);

        Assert.True(held.IsCompletedSuccessfully);
        Assert.Equal(2u, await Broker.CountAsync(broker.Uri, queue));
    }

    private static async Task<ConfirmedPublisher> ReadyPublisherAsync(IConnection connection, string queue)
    {
        var publisher = new ConfirmedPublisher(connection, 1 << 20, "test", NullLogger.Instance);
        await (await publisher.EnqueueAsync(Message(queue, "ready"), CancellationToken.None)).WaitAsync(Eventually.DefaultPatience);
        return publisher;
    }

    private static async Task DeclareAsync(IConnection connection, string queue)
    {
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
    }

    private static OutgoingMessage Message(string queue, string body) =>
        new("", queue, new BasicProperties(), Encoding.UTF8.GetBytes(body));
}
