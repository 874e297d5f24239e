using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>
/// A source of jobs. Each processor calls <see cref="ReceiveAsync"/> itself and takes one job at
/// a time; a job it got is its own until it finishes or requeues it. Ending the enumeration (by
/// cancelling the token) gives back anything received but not yet handed out. Disposed once, after
/// the last job was settled: what it reported reaches its owner first, then its connections close.
/// </summary>
public interface IJobQueue : IAsyncDisposable
{
    string Name { get; }

    /// <summary>True while the queue can deliver jobs (e.g. the broker connection is up).</summary>
    bool IsConnected { get; }

    IAsyncEnumerable<IJob> ReceiveAsync(CancellationToken ct);

    /// <summary>
    /// Connects ahead of the first <see cref="ReceiveAsync"/>, for a queue that connects to
    /// something (a broker), retrying until it works or <paramref name="ct"/> fires; a queue that
    /// connects lazily otherwise does it there.
    /// </summary>
    Task ConnectAsync(CancellationToken ct) => Task.CompletedTask;
}
