using System.Buffers;
using System.Globalization;
using System.Text.Json;
using RabbitMQ.Client;
using Worker.Core.Jobs;

namespace Worker.Amqp;

/// <summary>The JSON bodies and AMQP properties of state updates and log parts, as travis-worker sends them.</summary>
public static class WireFormat
{
    // One scratch buffer per thread: Utf8JsonWriter asks for room for the worst-case escaping of a
    // string (six bytes a character), so a buffer per message would hold ten times its body.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _scratch;

    [ThreadStatic]
    private static Utf8JsonWriter? _writer;

    /// <summary>RFC 3339, UTC, whole seconds (travis-hub's format).</summary>
    public static string Time(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <param name="type">The AMQP type, e.g. <c>job:test:log</c>.</param>
    /// <param name="headers">Extra headers.</param>
    /// <param name="messageId">Stable per message, so a consumer can drop the copy an outage may cause (confirms are at-least-once).</param>
    public static BasicProperties Properties(string type, IDictionary<string, object?>? headers = null, string? messageId = null) => new()
    {
        MessageId = messageId,
        ContentType = "application/json",
        DeliveryMode = DeliveryModes.Persistent,
        Type = type,
        Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        Headers = headers,
    };

    /// <param name="sharded">
    /// To <c>reporting.jobs.logs_sharded</c> with the job id as routing key (travis-worker's
    /// <c>RABBITMQ_SHARDING</c>), so all of a job's parts hash to one shard and stay in order;
    /// else to <c>reporting</c>/<c>reporting.jobs.logs</c>.
    /// </param>
    /// <param name="meta">On the job's first part after it started only, as travis-worker sends it.</param>
    public static OutgoingMessage LogPart(LogPart part, string? uuid, bool sharded = false, JobStartedMeta? meta = null)
    {
        var json = StartJson();
        json.WriteStartObject();
        json.WriteNumber("id", part.JobId);
        json.WriteString("log", part.Content);
        json.WriteNumber("number", part.Number);
        json.WriteString("uuid", uuid ?? "");
        json.WriteBoolean("final", part.Final);
        if (meta is not null)
        {
            json.WriteStartObject("meta");
            json.WriteString("queued_at", meta.QueuedAt);
            json.WriteString("repo", meta.Repo);
            json.WriteString("queue", meta.Queue);
            json.WriteString("infra", meta.Infra);
            json.WriteEndObject();
        }
        json.WriteEndObject();
        var (exchange, routingKey) = sharded
            ? (AmqpNames.ShardedLogExchange, part.JobId.ToString(CultureInfo.InvariantCulture))
            : (AmqpNames.ReportingExchange, AmqpNames.LogRoutingKey);
        return new OutgoingMessage(exchange, routingKey, Properties(AmqpNames.LogType, messageId: $"{part.JobId}.log.{part.Number}"), FinishJson(json));
    }

    /// <summary>A state update; <paramref name="count"/> is the job's <c>state_update_count</c> before this update.</summary>
    /// <param name="uuid">The run's uuid (<c>meta.uuid</c>): the payload's own, else one made for this attempt.</param>
    public static OutgoingMessage StateUpdate(string type, string state, JobPayload payload, string? uuid, int count, string? instanceId,
        DateTimeOffset? receivedAt, DateTimeOffset? startedAt, DateTimeOffset? finishedAt)
    {
        var json = StartJson();
        json.WriteStartObject();
        json.WriteNumber("id", payload.JobId);
        json.WriteString("state", state);
        json.WriteStartObject("meta");
        json.WriteNumber("state_update_count", count);
        if (instanceId is not null)
        {
            json.WriteString("instance_id", instanceId);
        }
        if (uuid is not null)
        {
            json.WriteString("uuid", uuid);
        }
        json.WriteEndObject();
        if (payload.VmSize is { } vmSize)
        {
            json.WriteString("vm_size", vmSize);
        }
        WriteTime(json, "queued_at", payload.QueuedAt);
        WriteTime(json, "received_at", receivedAt);
        WriteTime(json, "started_at", startedAt);
        WriteTime(json, "finished_at", finishedAt);
        json.WriteEndObject();
        return new OutgoingMessage(AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey, Properties(type, messageId: $"{payload.JobId}.state.{count}"), FinishJson(json));
    }

    private static Utf8JsonWriter StartJson()
    {
        _scratch ??= new ArrayBufferWriter<byte>(4096);
        _scratch.ResetWrittenCount();
        _writer ??= new Utf8JsonWriter(_scratch);
        _writer.Reset(_scratch);
        return _writer;
    }

    /// <summary>The body in an array of its own, exactly as long as it is.</summary>
    private static byte[] FinishJson(Utf8JsonWriter json)
    {
        json.Flush();
        return _scratch!.WrittenSpan.ToArray();
    }

    private static void WriteTime(Utf8JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            json.WriteString(name, Time(t));
        }
    }
}
