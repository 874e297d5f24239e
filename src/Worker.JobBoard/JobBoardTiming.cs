namespace Worker.JobBoard;

/// <summary>
/// How the http queue waits between attempts when job-board (or the state and log URLs it hands out)
/// fails: exponential waits from <see cref="FirstWait"/>, with jitter, at most <see cref="MaxWait"/>
/// apart; one request may take <see cref="AttemptTimeout"/>. travis-worker waited at most 10 s between
/// attempts and gave a fetch or delete a minute (<see cref="GiveUpAfter"/>). Not settings; tests shorten them.
/// </summary>
public sealed record JobBoardTiming
{
    public static JobBoardTiming Travis { get; } = new();

    public TimeSpan FirstWait { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a fetch, a delete or a received/started state is retried; a finish or requeue is retried for the teardown's time, log parts until they are delivered.</summary>
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromMinutes(1);

    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait between two pops while job-board fails.</summary>
    public TimeSpan MaxPopWait { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Log parts of one job waiting for delivery before its log output waits for them (travis-worker's buffer: 150).</summary>
    public int MaxPendingParts { get; init; } = 150;

    /// <summary>Most log parts in one POST.</summary>
    public int MaxPartsPerPost { get; init; } = 50;

    /// <summary>The wait before attempt <paramref name="failures"/>+1: doubling from <see cref="FirstWait"/>, at most <paramref name="cap"/>.</summary>
    public TimeSpan WaitAfter(int failures, TimeSpan cap)
    {
        var wait = FirstWait * Math.Pow(2, Math.Min(failures - 1, 30));
        return wait > cap ? cap : wait;
    }
}
