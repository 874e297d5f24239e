using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>
/// A source of jobs. Each processor calls <see cref="ReceiveAsync"/> itself and takes one job at
/// a time; a job it got is its own until it finishes or requeues it. Ending the enumeration (by
/// cancelling the token) gives back anything received but not yet handed out.
/// </summary>
public interface IJobQueue
{
    string Name { get; }

    /// <summary>True while the queue can deliver jobs (e.g. the broker connection is up).</summary>
    bool IsConnected { get; }

    IAsyncEnumerable<IJob> ReceiveAsync(CancellationToken ct);
}
