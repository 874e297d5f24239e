using Worker.Core.Logs;

namespace Worker.Core.Pipeline;

/// <summary>
/// Fires <see cref="Token"/> once a running script's log has been silent for the limit
/// (<c>timeouts.log_silence</c>). A timer that looks at the log's last output when it comes due and
/// sets itself again for the time left, so output costs it nothing.
/// </summary>
/// <remarks>
/// A timer rather than a task waiting in a loop: ending the watch when the script ends is a
/// synchronous dispose. Cancelling a waiting loop's delay ran the loop's end as a thread-pool work
/// item, and the job's teardown went on from there, a hop between threads on every job's path (at
/// pool 1 on AMQP, from the started state to the final log part on the wire: median 31 us with
/// the loop, 15 with the timer).
/// </remarks>
internal sealed class SilenceWatch : IDisposable
{
    /// <summary>The shortest wait between two looks, so a log that went quiet just now is not looked at in a tight loop.</summary>
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(50);

    private readonly JobLogWriter _log;
    private readonly TimeSpan _limit;
    private readonly object _lock = new();
    // Never disposed: it holds no timer or wait handle, and a look under way may cancel it while
    // the watch is being disposed.
    private readonly CancellationTokenSource _silence = new();
    private readonly ITimer _timer;
    private bool _stopped;

    /// <summary>Starts watching now; the log's silence counts from its last output (see <see cref="JobLogWriter.ResetSilence"/>).</summary>
    public SilenceWatch(JobLogWriter log, TimeSpan limit, TimeProvider clock)
    {
        _log = log;
        _limit = limit;
        _timer = clock.CreateTimer(static watch => ((SilenceWatch)watch!).Look(), this, Wait(limit - log.SinceLastOutput), Timeout.InfiniteTimeSpan);
    }

    /// <summary>Fires when the log was silent for the limit.</summary>
    public CancellationToken Token => _silence.Token;

    public bool Fired => _silence.IsCancellationRequested;

    /// <summary>Stops watching; a look under way may still fire <see cref="Token"/>.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _stopped = true;
            _timer.Dispose();
        }
    }

    private void Look()
    {
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }
            var left = _limit - _log.SinceLastOutput;
            if (left > TimeSpan.Zero)
            {
                _timer.Change(Wait(left), Timeout.InfiniteTimeSpan);
                return;
            }
            _stopped = true;
        }
        // Outside the lock: cancelling runs the run's callbacks, which end with this watch disposed.
        _silence.Cancel();
    }

    private static TimeSpan Wait(TimeSpan left) => left < MinimumWait ? MinimumWait : left;
}
