using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Worker.Amqp;

/// <summary>One delivery of a job message: the consumer channel it came on and its tag there.</summary>
internal sealed record AmqpDelivery(IChannel Channel, ulong Tag, bool Redelivered)
{
    /// <summary>
    /// Acks on the channel the delivery came on. A channel that was closed or recovered since can't
    /// ack it any more; RabbitMQ has then put the message back already, and its next delivery is
    /// acked instead (see <see cref="AmqpJob.Adopt"/>).
    /// </summary>
    public async Task<bool> TryAckAsync(CancellationToken ct)
    {
        try
        {
            if (!Channel.IsOpen)
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
            if (Channel.IsOpen)
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
