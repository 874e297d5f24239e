using Worker.Core.Jobs;

namespace Worker.Amqp;

/// <summary>
/// A job's log parts as <c>job:test:log</c> messages on <c>reporting</c>/<c>reporting.jobs.logs</c>
/// (with sharded logs, on <c>reporting.jobs.logs_sharded</c> with the job id as routing key).
/// Parts go into the log connection's ordered, bounded outbox (a write waits only while it is full),
/// so a broker outage delays them but neither loses nor reorders them.
/// </summary>
/// <param name="uuid">The run's uuid, on every part.</param>
/// <param name="firstNumber">
/// The number of this attempt's first part: how many parts the job's earlier attempts published
/// (<c>x-log-parts</c> on a requeue copy), so the attempts of one job share one numbering.
/// </param>
/// <param name="holdFinal">
/// The final part waits in the outbox for the job's next state (its finish, reset, requeue or dead
/// letter) on the same channel, so the two go out in one write: the broker then confirms them
/// together, where a part sent alone was confirmed first and the finish's confirm came one broker
/// turn later (about 50 us on a job's critical path). Only where logs share the states' publisher.
/// </param>
/// <param name="sharded">The parts go to the sharded logs' exchange (<c>RABBITMQ_SHARDING</c>).</param>
internal sealed class AmqpLogSink(ConfirmedPublisher publisher, JobPayload payload, string uuid, int firstNumber, bool holdFinal, bool sharded) : ILogPartSink
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly int _firstNumber = firstNumber;
    private int _nextNumber = firstNumber;
    private Task _lastConfirmed = Task.CompletedTask;
    private bool _closed;
    private Task? _finalConfirmed;
    private JobStartedMeta? _startedMeta;

    /// <summary>The job started: the next part sent carries <paramref name="meta"/>, and no other part does (travis-worker's SetJobStarted).</summary>
    public void JobStarted(JobStartedMeta meta) => Volatile.Write(ref _startedMeta, meta);

    public async ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            await WriteLockedAsync(part, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Makes sure the final part is in the outbox and returns the task of its confirm. If the
    /// pipeline could not close the log (its own wait timed out), the final part is sent here,
    /// empty, with the next number.
    /// </summary>
    public async Task<Task> EnsureFinalAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_finalConfirmed is null)
            {
                await WriteLockedAsync(new LogPart(payload.JobId, _nextNumber - _firstNumber, "", true), ct);
            }
            return _finalConfirmed!;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Closes the log without a final part, for an attempt whose log goes on in the job's next one:
    /// returns the confirm of the last part sent and how many parts the job's attempts have sent so far.
    /// </summary>
    public async Task<(Task Confirmed, int Parts)> EndWithoutFinalAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            _closed = true;
            return (_lastConfirmed, _nextNumber);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task WriteLockedAsync(LogPart part, CancellationToken ct)
    {
        if (_closed || _finalConfirmed is not null)
        {
            throw new InvalidOperationException($"the log of job {payload.JobId} is closed");
        }
        var number = checked(_firstNumber + part.Number);
        if (number != _nextNumber)
        {
            throw new InvalidOperationException($"log part {number} of job {payload.JobId} is out of order; expected {_nextNumber}");
        }
        var meta = Interlocked.Exchange(ref _startedMeta, null);
        var confirmed = await publisher.EnqueueAsync(WireFormat.LogPart(part with { Number = number }, uuid, sharded, meta), sendNow: !(part.Final && holdFinal), ct);
        _nextNumber = number + 1;
        _lastConfirmed = confirmed;
        if (part.Final)
        {
            _finalConfirmed = confirmed;
        }
    }
}
