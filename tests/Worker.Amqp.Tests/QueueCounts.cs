namespace Worker.Amqp.Tests;

/// <summary>A queue as <c>rabbitmqctl list_queues</c> shows it: messages waiting, messages delivered but not acked, consumers.</summary>
public sealed record QueueCounts(int Ready, int Unacked, int Consumers)
{
    /// <summary>Nothing waits and nothing is held.</summary>
    public bool Empty => Ready == 0 && Unacked == 0;
}
