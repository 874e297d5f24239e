using Worker.Core.Jobs;

namespace Worker.Amqp;

/// <summary>
/// A job's state updates on <c>reporting</c>/<c>reporting.jobs.builds</c>. <c>state_update_count</c>
/// starts at the payload's <c>meta.state_update_count</c> and each update carries the count before
/// its own increment, as travis-hub expects when it drops stale updates. Each carries the run's
/// <paramref name="uuid"/> in its <c>meta</c>.
/// </summary>
internal sealed class AmqpStateReporter(ConfirmedPublisher publisher, JobPayload payload, string uuid)
{
    private readonly object _lock = new();
    private int _count = payload.StateUpdateCount;

    /// <summary>The count the next update will carry.</summary>
    public int Count { get { lock (_lock) { return _count; } } }

    public string? InstanceId { get; set; }

    /// <summary>Puts the update in the outbox; the returned task completes when the broker confirmed it.</summary>
    public async Task<Task> ReportAsync(string type, string state, JobBase job, CancellationToken ct)
    {
        OutgoingMessage message;
        lock (_lock)
        {
            message = WireFormat.StateUpdate(type, state, payload, uuid, _count, InstanceId, job.ReceivedAt, job.StartedAt, job.FinishedAt);
            _count++;
        }
        try
        {
            return await publisher.EnqueueAsync(message, ct);
        }
        catch (OperationCanceledException)
        {
            lock (_lock)
            {
                _count--; // not sent, so the count is not used up
            }
            throw;
        }
    }
}
