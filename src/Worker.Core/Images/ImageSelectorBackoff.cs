namespace Worker.Core.Images;

/// <summary>
/// How long the <c>api</c> selector keeps asking job-board: travis-worker's exponential backoff
/// (waits from half a second, growing by half each time, each randomized by up to half either way,
/// at most <see cref="MaxWait"/> apart) until the next wait would end past <see cref="GiveUpAfter"/>.
/// One request may take <see cref="AttemptTimeout"/>, so a job-board that holds a request open is
/// asked again rather than waited on until the startup timeout. Not settings; tests shorten them.
/// </summary>
public sealed record ImageSelectorBackoff
{
    /// <summary>travis-worker's limits: waits of at most 10 s, giving up after a minute.</summary>
    public static ImageSelectorBackoff Travis { get; } = new();

    public TimeSpan FirstWait { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The wait after <paramref name="wait"/>, before randomizing.</summary>
    public TimeSpan After(TimeSpan wait) => TimeSpan.FromTicks(Math.Min((long)(wait.Ticks * 1.5), MaxWait.Ticks));

    /// <summary><paramref name="wait"/> moved at random by up to half of it, so hosts that failed together don't ask again together.</summary>
    public static TimeSpan Randomized(TimeSpan wait) => wait * (0.5 + Random.Shared.NextDouble());
}
