using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// A message handed in to be held (a job's final log part, waiting for its finish state) stays in
/// the outbox until the next message goes, then both go in their order; one that nothing follows
/// goes when asked to, or when the outbox is waited on to empty.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HeldMessageTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task A_held_message_waits_for_the_next_one_and_they_arrive_in_order()
    {
        await using var outbox = await ReadyOutbox.OpenAsync(broker.Uri, "held");

        var held = await outbox.HoldAsync("first");
        Assert.Equal(1u, await Broker.CountAsync(broker.Uri, outbox.Queue)); // only the one sent before

        var next = await outbox.Publisher.EnqueueAsync(outbox.Message("second"), CancellationToken.None);
        await Task.WhenAll(held, next).WaitAsync(Eventually.DefaultPatience);

        Assert.Equal(["ready", "first", "second"], await outbox.ArrivedAsync());
    }

    [Fact]
    public async Task A_held_message_that_nothing_follows_goes_when_asked()
    {
        await using var outbox = await ReadyOutbox.OpenAsync(broker.Uri, "held-alone");

        var held = await outbox.HoldAsync("alone");
        outbox.Publisher.SendHeld();

        await held.WaitAsync(Eventually.DefaultPatience);
        Assert.Equal(["ready", "alone"], await outbox.ArrivedAsync());
    }

    [Fact]
    public async Task Waiting_for_the_outbox_to_empty_sends_a_held_message()
    {
        await using var outbox = await ReadyOutbox.OpenAsync(broker.Uri, "held-closing");

        var held = await outbox.Publisher.EnqueueAsync(outbox.Message("last"), sendNow: false, CancellationToken.None);
        await outbox.Publisher.WhenEmptyAsync(CancellationToken.None).WaitAsync(Eventually.DefaultPatience);

        Assert.True(held.IsCompletedSuccessfully);
        Assert.Equal(["ready", "last"], await outbox.ArrivedAsync());
    }

    /// <summary>
    /// A publisher to a queue of its own whose channel is open and idle (a first message, "ready",
    /// confirmed): a channel (re)opened sends everything waiting, held or not.
    /// </summary>
    private sealed class ReadyOutbox(Uri broker, IConnection connection, string queue, ConfirmedPublisher publisher) : IAsyncDisposable
    {
        public string Queue => queue;

        public ConfirmedPublisher Publisher => publisher;

        public static async Task<ReadyOutbox> OpenAsync(Uri broker, string what)
        {
            var queue = Broker.NewQueue(what);
            var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
            await using (var channel = await connection.CreateChannelAsync())
            {
                await channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
            }
            var outbox = new ReadyOutbox(broker, connection, queue, new ConfirmedPublisher(connection, 1 << 20, "test", NullLogger.Instance));
            await (await outbox.Publisher.EnqueueAsync(outbox.Message("ready"), CancellationToken.None)).WaitAsync(Eventually.DefaultPatience);
            return outbox;
        }

        /// <summary>Hands a message in to be held, and checks that it is still unsent a while later.</summary>
        /// <returns>Its confirm.</returns>
        public async Task<Task> HoldAsync(string body)
        {
            var held = await publisher.EnqueueAsync(Message(body), sendNow: false, CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            Assert.False(held.IsCompleted, "a held message is not sent on its own");
            return held;
        }

        public OutgoingMessage Message(string body) => new("", queue, new BasicProperties(), Encoding.UTF8.GetBytes(body));

        public async Task<List<string>> ArrivedAsync() =>
            [.. (await Broker.DrainAsync(broker, queue)).Select(m => Encoding.UTF8.GetString(m.Body.Span))];

        public async ValueTask DisposeAsync()
        {
            await publisher.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
