using RabbitMQ.Client;
using Worker.Core.Jobs;

namespace Worker.Amqp.Tests;

/// <summary>Publishing and inspecting as an outsider (travis-scheduler, an operator) would, with plain RabbitMQ.Client.</summary>
public static class Broker
{
    private static long _lastJobId = JobFile.NewJobId();

    /// <summary>
    /// A job from a YAML job file, with a job id no other job of this test run has: ids made from
    /// the clock alone collide when a test makes hundreds in a few milliseconds.
    /// </summary>
    public static JobPayload Job(string yaml, string queue) =>
        JobFile.Parse($"id: {Interlocked.Increment(ref _lastJobId)}\n{yaml}", queue);

    /// <summary>A job queue name of the test's own, so tests sharing a broker don't meet.</summary>
    public static string NewQueue(string what) => $"builds.{what}-{Guid.NewGuid().ToString("N")[..8]}";

    public static async Task PublishAsync(Uri broker, string exchange, string routingKey, byte[] body, string? type = "job:test",
        IDictionary<string, object?>? headers = null)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var properties = new BasicProperties { ContentType = "application/json", Persistent = true, Type = type, Headers = headers };
        await channel.BasicPublishAsync(exchange, routingKey, false, properties, body);
    }

    public static Task EnqueueAsync(Uri broker, string queue, JobPayload payload) =>
        PublishAsync(broker, "", queue, payload.ToUtf8Bytes());

    /// <summary>Messages ready in a queue (0 for a queue that does not exist).</summary>
    public static async Task<uint> CountAsync(Uri broker, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return 0;
        }
    }

    /// <summary>Takes every message out of a queue.</summary>
    public static async Task<List<BasicGetResult>> DrainAsync(Uri broker, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var messages = new List<BasicGetResult>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
        {
            messages.Add(message);
        }
        return messages;
    }
}
