using RabbitMQ.Client;

namespace Worker.Amqp;

/// <summary>One message on its way to the broker; <see cref="Confirmed"/> completes once the broker confirmed it.</summary>
public sealed class OutgoingMessage(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body)
{
    /// <summary>The header that lets a returned mandatory message be told from the others in flight.</summary>
    internal const string PublishIdHeader = "x-worker-publish-id";

    private readonly TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Exchange { get; } = exchange;
    public string RoutingKey { get; } = routingKey;
    public BasicProperties Properties { get; } = properties;
    public ReadOnlyMemory<byte> Body { get; } = body;

    /// <summary>What the message holds of the outbox while it waits.</summary>
    public long Size => Body.Length + 256;

    public Task Confirmed => _confirmed.Task;

    /// <summary>Published as mandatory: a broker that can't route it returns it instead of dropping it.</summary>
    public bool Mandatory => DeclareRoute is not null;

    /// <summary>For a mandatory message: declares what it is routed to, before it is sent again after a return.</summary>
    internal Func<IChannel, CancellationToken, Task>? DeclareRoute { get; private init; }

    internal string? PublishId { get; private init; }

    /// <summary>The broker returned it unrouted; it goes out again once its route is declared.</summary>
    internal bool Returned { get; set; }

    /// <summary>
    /// A message that must reach a queue (a requeue copy, a dead letter): a broker that can't route
    /// it returns it, and it is sent again once <paramref name="declareRoute"/> has declared its queue,
    /// instead of being confirmed and dropped. It counts as confirmed only once it was routed.
    /// </summary>
    public static OutgoingMessage ToQueue(string queue, BasicProperties properties, ReadOnlyMemory<byte> body,
        Func<IChannel, CancellationToken, Task> declareRoute)
    {
        var publishId = Guid.NewGuid().ToString("N");
        properties.Headers = properties.Headers is { } headers ? new Dictionary<string, object?>(headers) : [];
        properties.Headers[PublishIdHeader] = publishId;
        return new OutgoingMessage("", queue, properties, body) { DeclareRoute = declareRoute, PublishId = publishId };
    }

    internal void Confirm() => _confirmed.TrySetResult();

    internal void Abandon(Exception reason) => _confirmed.TrySetException(reason);
}
