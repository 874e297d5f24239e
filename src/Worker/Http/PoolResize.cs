namespace Worker.Http;

/// <summary>Body of <c>PUT /pool</c>: the number of processors wanted (0 pauses the pool without exiting).</summary>
public sealed record PoolResize(int? Size)
{
    /// <summary>The same ceiling as <c>WORKER_POOL_SIZE</c>.</summary>
    public const int MaxSize = 1000;
}
