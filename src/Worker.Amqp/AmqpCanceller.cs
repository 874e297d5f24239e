using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Core.Jobs;

namespace Worker.Amqp;

/// <summary>
/// Listens for travis's cancel commands: the non-durable fanout exchange <c>worker.commands</c>,
/// bound to a server-named exclusive queue of this worker (re-created by topology recovery after
/// an outage). <c>{"type":"cancel_job","job_id":N,"source":..,"reason":..}</c> cancels job N if it
/// runs here; every command is acked, as travis-worker does.
/// </summary>
internal sealed class AmqpCanceller(JobCancellations cancellations, ILogger logger) : IAsyncDisposable
{
    private IChannel? _channel;

    public async Task StartAsync(IConnection connection, CancellationToken ct)
    {
        _channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await _channel.ExchangeDeclareAsync(AmqpNames.CommandsExchange, ExchangeType.Fanout, durable: false, autoDelete: false, cancellationToken: ct);
        var queue = await _channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: ct);
        await _channel.QueueBindAsync(queue.QueueName, AmqpNames.CommandsExchange, "", cancellationToken: ct);
        var consumer = new AsyncEventingBasicConsumer(_channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            Handle(delivery.Body.Span);
            return Task.CompletedTask;
        };
        await _channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer, ct);
    }

    private void Handle(ReadOnlySpan<byte> body)
    {
        CancelCommand? command;
        try
        {
            command = Parse(body);
        }
        catch (JsonException e)
        {
            logger.LogWarning("Ignoring a worker command that is not JSON: {Error}", e.Message);
            return;
        }
        if (command is null)
        {
            return;
        }
        var reason = string.IsNullOrWhiteSpace(command.Reason)
            ? $"The job was cancelled{(command.Source is { Length: > 0 } source ? " via " + source : "")}."
            : command.Reason;
        if (cancellations.Cancel(command.JobId, reason))
        {
            logger.LogInformation("Cancelling job {JobId} (source {Source}): {Reason}", command.JobId, command.Source, reason);
        }
    }

    /// <summary>A cancel command, or null for any other command type.</summary>
    internal static CancelCommand? Parse(ReadOnlySpan<byte> body)
    {
        using var doc = JsonDocument.Parse(body.ToArray());
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) ||
            type.ValueKind != JsonValueKind.String || type.GetString() != "cancel_job" || !root.TryGetProperty("job_id", out var id))
        {
            return null;
        }
        long jobId;
        if (id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var n))
        {
            jobId = n;
        }
        else if (id.ValueKind == JsonValueKind.String && long.TryParse(id.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s))
        {
            jobId = s;
        }
        else
        {
            return null;
        }
        return new CancelCommand(jobId, Text(root, "source"), Text(root, "reason"));
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
        {
            try
            {
                await _channel.CloseAsync();
            }
            catch (Exception e)
            {
                logger.LogDebug("Closing the command channel: {Error}", e.Message);
            }
            await _channel.DisposeAsync();
        }
    }

    internal sealed record CancelCommand(long JobId, string? Source, string? Reason);
}
