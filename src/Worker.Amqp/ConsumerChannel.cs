using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Worker.Amqp;

/// <summary>
/// A processor's consumer channel and how often it was lost. Automatic recovery gives the same
/// channel object a new life after an outage, and acking a tag from an earlier life is silently
/// ignored by the client; counting the losses lets a delivery know its tag went stale. Recovery
/// only follows a lost connection, though: a channel the broker closes by itself (a delivery
/// unacked past its <c>consumer_timeout</c>, a protocol error) stays closed, which
/// <see cref="ClosedForGood"/> says, so its processor can open another.
/// </summary>
internal sealed class ConsumerChannel
{
    private readonly TaskCompletionSource<ShutdownEventArgs> _closedForGood = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _losses;

    public ConsumerChannel(IChannel channel, IConnection connection)
    {
        Channel = channel;
        channel.ChannelShutdownAsync += (_, reason) =>
        {
            Interlocked.Increment(ref _losses);
            // The client sets the connection's close reason before it tells its channels, so an
            // open connection here means this channel alone was closed, and nothing will recover it.
            if (connection.CloseReason is null)
            {
                _closedForGood.TrySetResult(reason);
            }
            return Task.CompletedTask;
        };
    }

    public IChannel Channel { get; }

    /// <summary>Completes with the reason when the channel was closed while its connection stayed open.</summary>
    public Task<ShutdownEventArgs> ClosedForGood => _closedForGood.Task;

    public int Losses => Volatile.Read(ref _losses);
}
