namespace Worker.Cirrus.Session;

/// <summary>
/// How an unavailable Cirrus server is retried: exponential backoff from <see cref="Initial"/> to
/// <see cref="Maximum"/>, each wait half fixed and half random so a fleet that lost the server at
/// once does not come back at once; given up after <see cref="GiveUpAfter"/>.
/// </summary>
public sealed record RetryPolicy(TimeSpan Initial, TimeSpan Maximum, TimeSpan GiveUpAfter)
{
    public static RetryPolicy Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(15));

    /// <summary>The wait before retry number <paramref name="attempt"/> (1-based).</summary>
    public TimeSpan Delay(int attempt, Random? random = null)
    {
        var ceiling = Math.Min(Maximum.TotalMilliseconds, Initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)));
        var jitter = (random ?? Random.Shared).NextDouble() * ceiling / 2;
        return TimeSpan.FromMilliseconds(ceiling / 2 + jitter);
    }
}
