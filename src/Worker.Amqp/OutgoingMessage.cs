using RabbitMQ.Client;

namespace Worker.Amqp;

/// <summary>One message on its way to the broker; <see cref="Confirmed"/> completes once the broker confirmed it.</summary>
public sealed class OutgoingMessage(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body)
{
    private readonly TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Exchange { get; } = exchange;
    public string RoutingKey { get; } = routingKey;
    public BasicProperties Properties { get; } = properties;
    public ReadOnlyMemory<byte> Body { get; } = body;

    /// <summary>What the message holds of the outbox while it waits.</summary>
    public long Size => Body.Length + 256;

    public Task Confirmed => _confirmed.Task;

    internal void Confirm() => _confirmed.TrySetResult();

    internal void Abandon(Exception reason) => _confirmed.TrySetException(reason);
}
