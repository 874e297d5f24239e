using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Worker.Amqp;

/// <summary>
/// A processor's consumer of the job queue. When the broker itself cancels it (the queue was
/// deleted, or its node went away), <see cref="BrokerCancelled"/> fires so the processor
/// subscribes again instead of waiting forever on a consumer that gets nothing.
/// </summary>
internal sealed class JobConsumer(IChannel channel) : AsyncEventingBasicConsumer(channel)
{
    private readonly TaskCompletionSource _brokerCancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task BrokerCancelled => _brokerCancelled.Task;

    public override async Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
    {
        await base.HandleBasicCancelAsync(consumerTag, cancellationToken);
        _brokerCancelled.TrySetResult();
    }
}
