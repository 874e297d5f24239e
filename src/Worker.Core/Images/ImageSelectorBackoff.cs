namespace Worker.Core.Images;

/// <summary>
/// How long the <c>api</c> selector keeps asking job-board, as its Polly retry reads it: exponential
/// waits from <see cref="FirstWait"/>, with jitter, at most <see cref="MaxWait"/> apart, and no new request
/// once <see cref="GiveUpAfter"/> has passed (so the last wait may end past it by at most <see cref="MaxWait"/>).
/// travis-worker grew its waits by half each time and randomized each by up to half either way; Polly's
/// backoff doubles them with decorrelated jitter. One request may take <see cref="AttemptTimeout"/>, so a
/// job-board that holds a request open is asked again rather than waited on until the startup timeout.
/// Not settings; tests shorten them.
/// </summary>
public sealed record ImageSelectorBackoff
{
    /// <summary>travis-worker's limits: waits of at most 10 s, giving up after a minute.</summary>
    public static ImageSelectorBackoff Travis { get; } = new();

    public TimeSpan FirstWait { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
