using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Worker.Amqp;

/// <summary>
/// A processor's consumer of the job queue, which can step aside. The pipeline reports a job's
/// result (and acks it) before it tears the machine down, so RabbitMQ may hand this processor its
/// next job while a slow teardown (a VM delete) is still running. A job left unread that long goes
/// back to the queue, and the consumer pauses until its processor asks for a job again, so an idle
/// worker elsewhere runs it instead.
/// </summary>
/// <param name="timeout">The delivery timeout this consumer asks the broker for; null: none (the broker can't take one).</param>
internal sealed class ConsumerSubscription(IChannel channel, string queue, int priority, TimeSpan? timeout, JobConsumer consumer, ILogger logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _tag;

    /// <summary>Consumes the queue unless it already does.</summary>
    public async Task EnsureConsumingAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            _tag ??= await ConsumeAsync(ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Consumes again under a new consumer tag. RabbitMQ counts prefetch per consumer, so a delivery
    /// held for another run (an adopted redelivery) stops filling this processor's only slot; the
    /// delivery stays on the channel and is acked there when that run ends.
    /// </summary>
    public async Task RenewAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_tag is { } tag)
            {
                _tag = null;
                await channel.BasicCancelAsync(tag, noWait: false, CancellationToken.None);
                _tag = await ConsumeAsync(CancellationToken.None);
            }
        }
        catch (Exception e)
        {
            // A lost channel gives its deliveries back and is consumed again by whoever reopens it.
            logger.LogDebug("Renewing the consumer of {Queue} failed: {Error}", queue, e.Message);
        }
        finally
        {
            _gate.Release();
        }
    }

    private Task<string> ConsumeAsync(CancellationToken ct)
    {
        var arguments = new Dictionary<string, object?> { ["x-priority"] = priority };
        if (timeout is { } ask)
        {
            arguments["x-consumer-timeout"] = (long)ask.TotalMilliseconds;
        }
        return channel.BasicConsumeAsync(queue, autoAck: false, consumerTag: "", noLocal: false, exclusive: false, arguments, consumer, ct);
    }

    /// <summary>Stops consuming, then gives the job back: in that order, so RabbitMQ can't hand it straight back here.</summary>
    public async Task StepAsideAsync(AmqpJob job)
    {
        await _gate.WaitAsync();
        try
        {
            if (_tag is { } tag)
            {
                _tag = null;
                await channel.BasicCancelAsync(tag, noWait: false, CancellationToken.None);
            }
        }
        catch (Exception e)
        {
            // A lost channel gives the message back by itself.
            logger.LogDebug("Pausing the consumer of {Queue} failed: {Error}", queue, e.Message);
        }
        finally
        {
            _gate.Release();
        }
        await job.HandBackAsync();
    }
}
