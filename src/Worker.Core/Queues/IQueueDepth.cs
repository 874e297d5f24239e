namespace Worker.Core.Queues;

/// <summary>How many jobs wait in a job queue, for scaling a fleet on its backlog.</summary>
public interface IQueueDepth
{
    /// <summary>Jobs ready to be taken (not those a worker holds); null when it can't be told now.</summary>
    Task<long?> ReadyAsync(CancellationToken ct);
}
