using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Worker.Amqp;

/// <summary>One delivery of a job message: the consumer channel it came on, its tag there, and the channel's life it belongs to.</summary>
internal sealed record AmqpDelivery(ConsumerChannel Consumer, ulong Tag, bool Redelivered)
{
    private readonly int _life = Consumer.Losses;

    private IChannel Channel => Consumer.Channel;

    /// <summary>The channel was lost since: the tag means nothing now and RabbitMQ has put the message back.</summary>
    public bool Stale => Consumer.Losses != _life || !Channel.IsOpen;

    /// <summary>
    /// Acks on the channel the delivery came on. A channel that was closed or recovered since can't
    /// ack it any more; RabbitMQ has then put the message back already, and its next delivery is
    /// acked instead (see <see cref="AmqpJob.Adopt"/>).
    /// </summary>
    public async Task<bool> TryAckAsync(CancellationToken ct)
    {
        try
        {
            if (Stale)
            {
                return false;
            }
            await Channel.BasicAckAsync(Tag, multiple: false, ct);
            return true;
        }
        catch (AlreadyClosedException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Gives the message back to the queue at once (the job could not be reported).</summary>
    public async Task TryRequeueAsync(CancellationToken ct)
    {
        try
        {
            if (!Stale)
            {
                await Channel.BasicNackAsync(Tag, multiple: false, requeue: true, ct);
            }
        }
        catch (AlreadyClosedException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
