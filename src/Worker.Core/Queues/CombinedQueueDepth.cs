namespace Worker.Core.Queues;

/// <summary>The jobs waiting in several sources (a comma list in <c>WORKER_QUEUE_TYPE</c>), told only when each of them can tell.</summary>
public sealed class CombinedQueueDepth(IReadOnlyList<IQueueDepth> depths) : IQueueDepth
{
    public async Task<long?> ReadyAsync(CancellationToken ct)
    {
        long total = 0;
        foreach (var depth in depths)
        {
            if (await depth.ReadyAsync(ct) is not { } ready)
            {
                return null; // a part would understate the backlog
            }
            total += ready;
        }
        return total;
    }
}
