using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Core.Jobs;
using Worker.Core.Queues;

namespace Worker.Amqp;

/// <summary>
/// <c>worker submit</c> over AMQP: publishes a payload to the job queue (confirmed), and with
/// follow, watches the job through its own exclusive queue bound to <c>reporting</c> for both
/// routing keys: log parts are printed in number order as they become contiguous, state changes
/// as they come, until the finish state and the final log part have arrived. With sharded logs
/// (<c>RABBITMQ_SHARDING</c>) only the states are followed: a queue bound to the sharded exchange
/// would become one of its shards and take a share of every job's log from travis-logs.
/// </summary>
public sealed class AmqpSubmitter(AmqpOptions options, string queueName, ILogger logger) : IJobSubmitter
{
    /// <summary>How long to wait for the rest of the log after the finish state arrived.</summary>
    private static readonly TimeSpan LogGrace = TimeSpan.FromSeconds(10);

    /// <summary>Publishes <paramref name="payload"/>; with <paramref name="follow"/>, returns the job's finish state (null without).</summary>
    public async Task<FinishState?> SubmitAsync(JobPayload payload, bool follow, TextWriter output, TextWriter status, CancellationToken ct)
    {
        var connector = new AmqpConnector(options, "worker-submit", logger);
        var connection = await connector.ConnectOnceAsync(options.Uri, "submit", ct);
        try
        {
            return await SubmitOnAsync(connection, payload, follow, output, status, ct);
        }
        finally
        {
            await connection.CloseQuietlyAsync(logger, "the submit connection");
        }
    }

    private async Task<FinishState?> SubmitOnAsync(IConnection connection, JobPayload payload, bool follow, TextWriter output, TextWriter status,
        CancellationToken ct)
    {
        await AmqpTopology.DeclareAsync(connection, queueName, options.QueueType, ct);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), ct);
        var events = Channel.CreateUnbounded<(string Type, JsonDocument Body)>();
        var followLog = follow && !options.ShardedLogs;
        if (follow)
        {
            // Bound before the job is published, so not even its first state can be missed.
            var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: ct);
            foreach (var key in followLog ? [AmqpNames.StateRoutingKey, AmqpNames.LogRoutingKey] : new[] { AmqpNames.StateRoutingKey })
            {
                await channel.QueueBindAsync(queue.QueueName, AmqpNames.ReportingExchange, key, cancellationToken: ct);
            }
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, message) =>
            {
                try
                {
                    events.Writer.TryWrite((message.BasicProperties.Type ?? "", JsonDocument.Parse(message.Body.ToArray())));
                }
                catch (JsonException e)
                {
                    logger.LogWarning("Ignoring a reporting message that is not JSON: {Error}", e.Message);
                }
                return Task.CompletedTask;
            };
            await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer, ct);
        }
        var properties = WireFormat.Properties(JobPayload.Str(payload.Root["type"]) ?? "job:test");
        await channel.BasicPublishAsync("", queueName, mandatory: false, properties, payload.ToUtf8Bytes(), ct);
        await status.WriteLineAsync($"Submitted job {payload.JobId} to AMQP queue {queueName}");
        if (!follow)
        {
            return null;
        }
        if (!followLog)
        {
            await status.WriteLineAsync($"Its log goes to the sharded exchange {AmqpNames.ShardedLogExchange} (RABBITMQ_SHARDING), which only travis-logs' shards read: " +
                "following its states only");
        }
        return await FollowAsync(payload.JobId, events.Reader, followLog, output, status, ct);
    }

    private static async Task<FinishState?> FollowAsync(long jobId, ChannelReader<(string Type, JsonDocument Body)> events, bool followLog,
        TextWriter output, TextWriter status, CancellationToken ct)
    {
        var parts = new SortedDictionary<int, (string Log, bool Final)>();
        var next = 0;
        var logDone = !followLog;
        FinishState? result = null;
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (!(logDone && result is not null))
        {
            (string Type, JsonDocument Body) item;
            try
            {
                item = await events.ReadAsync(grace.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await status.WriteLineAsync($"Job {jobId}: the rest of the log did not arrive within {LogGrace.TotalSeconds:F0}s of its finish");
                break;
            }
            using var body = item.Body;
            var root = body.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("id", out var id) || !id.TryGetInt64(out var itemId) || itemId != jobId)
            {
                continue;
            }
            if (item.Type == AmqpNames.LogType)
            {
                var number = root.GetProperty("number").GetInt32();
                var final = root.TryGetProperty("final", out var f) && f.ValueKind == JsonValueKind.True;
                if (number >= next)
                {
                    parts[number] = (root.GetProperty("log").GetString() ?? "", final);
                }
                while (parts.Remove(next, out var part))
                {
                    await output.WriteAsync(part.Log);
                    next++;
                    logDone |= part.Final;
                }
                await output.FlushAsync(ct);
            }
            else if (root.TryGetProperty("state", out var stateElement) && stateElement.GetString() is { } state)
            {
                await status.WriteLineAsync($"Job {jobId} {state}");
                if (FinishStates.FromWireName(state) is { } finished)
                {
                    result = finished;
                    grace.CancelAfter(LogGrace);
                }
            }
        }
        return result;
    }
}
