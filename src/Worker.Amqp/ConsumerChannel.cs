using RabbitMQ.Client;

namespace Worker.Amqp;

/// <summary>
/// A processor's consumer channel and how often it was lost. Automatic recovery gives the same
/// channel object a new life after an outage, and acking a tag from an earlier life is silently
/// ignored by the client; counting the losses lets a delivery know its tag went stale.
/// </summary>
internal sealed class ConsumerChannel
{
    private int _losses;

    public ConsumerChannel(IChannel channel)
    {
        Channel = channel;
        channel.ChannelShutdownAsync += (_, _) =>
        {
            Interlocked.Increment(ref _losses);
            return Task.CompletedTask;
        };
    }

    public IChannel Channel { get; }

    public int Losses => Volatile.Read(ref _losses);
}
