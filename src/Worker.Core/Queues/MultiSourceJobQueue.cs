using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>
/// Several job sources taken as one, as travis-worker takes a comma list in <c>QUEUE_TYPE</c>
/// (<c>amqp,http</c>). A processor that waits for a job listens to every source and runs the one
/// that comes first; the others stop listening while it runs, so no source holds a job for a busy
/// processor that another worker could run. The source of the running job stays subscribed, as
/// its job is settled through it (an AMQP job is acked on its channel). When two jobs come at
/// once, the second goes back to its queue untouched (<see cref="IJob.GiveBackAsync"/>); sources
/// take turns when both are ready. The source whose turn it is listens alone for a moment
/// (<see cref="FirstTurn"/>) before the others join, so a source with a job ready hands it out
/// without another being asked for one that would have to go back: a job-board job given back
/// goes round through travis-hub. One that had nothing in its turn sits out the turns for a while
/// (<see cref="EmptyTurnRest"/>). A source that fails is subscribed again after a pause without
/// disturbing the others.
/// </summary>
public sealed class MultiSourceJobQueue : IJobQueue
{
    private readonly IReadOnlyList<IJobQueue> _sources;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing = new();
    private int _connecting;

    public MultiSourceJobQueue(IReadOnlyList<IJobQueue> sources, ILogger logger)
    {
        if (sources.Count == 0)
        {
            throw new ArgumentException("at least one job source", nameof(sources));
        }
        _sources = sources;
        _logger = logger;
    }

    /// <summary>How long a source that failed rests before it is subscribed again.</summary>
    public TimeSpan RetryPause { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the source whose turn it is listens alone when a processor comes for a job: long
    /// enough for a broker to deliver a ready message or job-board to answer a pop, short beside a job.
    /// </summary>
    public TimeSpan FirstTurn { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a source that had no job in its turn alone sits out the turns alone: the next source
    /// takes them meanwhile, so the jobs of a busy source don't each wait for an idle one. About
    /// travis-worker's HTTP polling interval; any source still joins every wait after the first turn.
    /// </summary>
    public TimeSpan EmptyTurnRest { get; init; } = TimeSpan.FromSeconds(3);

    public string Name => string.Join(",", _sources.Select(s => s.Name));

    /// <summary>Every source can deliver: one that can't is something its operator asked for and does not get.</summary>
    public bool IsConnected => _sources.All(s => s.IsConnected);

    public async IAsyncEnumerable<IJob> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        ConnectEverySourceOnce();
        var listeners = _sources.Select(s => new SourceListener(s, RetryPause, _logger)).ToArray();
        var first = 0;
        var newWait = true;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var cameAlone = newWait && await FirstTurnAsync(listeners, first, ct);
                newWait = false;
                if (!cameAlone)
                {
                    foreach (var listener in listeners)
                    {
                        listener.Listen(ct);
                    }
                }
                var waiting = listeners.Where(l => l.Next is not null).Select(l => l.Next!).ToList();
                if (waiting.Count == 0)
                {
                    yield break; // every source ended
                }
                try
                {
                    await Task.WhenAny(waiting).WaitAsync(ct);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
                SourceListener? winner = null;
                for (var i = 0; i < listeners.Length; i++)
                {
                    var listener = listeners[(first + i) % listeners.Length];
                    if (listener.TakeIfReady() is not { } job)
                    {
                        continue;
                    }
                    if (winner is null)
                    {
                        winner = listener;
                        first = (Array.IndexOf(listeners, listener) + 1) % listeners.Length;
                    }
                    else
                    {
                        await listener.GiveBackAsync(job);
                    }
                }
                if (winner is null)
                {
                    continue;
                }
                foreach (var other in listeners.Where(l => l != winner))
                {
                    await other.StopAsync();
                }
                yield return winner.Current;
                newWait = true;
            }
        }
        finally
        {
            foreach (var listener in listeners)
            {
                await listener.StopAsync();
            }
        }
    }

    /// <summary>
    /// The source whose turn it is (or, while that one rests after an empty turn or has ended, the
    /// next that doesn't) listens alone for <see cref="FirstTurn"/>. Whether a job came from it. One
    /// that ends or fails in its turn passes the turn on, so an ended source never leaves every
    /// source asked at once.
    /// </summary>
    private async Task<bool> FirstTurnAsync(SourceListener[] listeners, int first, CancellationToken ct)
    {
        if (FirstTurn <= TimeSpan.Zero || listeners.Length < 2)
        {
            return false;
        }
        while (true)
        {
            var now = Environment.TickCount64;
            var turn = Enumerable.Range(0, listeners.Length).Select(i => listeners[(first + i) % listeners.Length])
                .FirstOrDefault(l => !l.Ended && l.RestsUntil <= now);
            if (turn is null)
            {
                return false;
            }
            turn.Listen(ct);
            if (turn.Next is not { } alone)
            {
                return false;
            }
            await Task.WhenAny(alone, Task.Delay(FirstTurn, ct));
            if (alone.IsCompleted && alone.Result == Step.Job)
            {
                return true;
            }
            turn.RestsUntil = Environment.TickCount64 + (long)EmptyTurnRest.TotalMilliseconds;
            if (!alone.IsCompleted)
            {
                return false;
            }
            turn.TakeIfReady(); // it ended or failed: noted, and the next source takes the turn
        }
    }

    /// <summary>
    /// Every source connects when a processor first waits, not when it is first listened to: a
    /// source whose turn doesn't come while another keeps handing out jobs would otherwise stay
    /// unconnected, and the worker not ready (readiness asks every source), nor told of cancel
    /// commands that come over a broker.
    /// </summary>
    private void ConnectEverySourceOnce()
    {
        if (Interlocked.Exchange(ref _connecting, 1) != 0)
        {
            return;
        }
        foreach (var source in _sources)
        {
            _ = ConnectQuietlyAsync(source);
        }
    }

    private async Task ConnectQuietlyAsync(IJobQueue source)
    {
        try
        {
            await source.ConnectAsync(_closing.Token);
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Only what retrying can't mend gets here (a setting the broker refuses): listening to
            // the source meets it again and stops the worker with its one line.
            _logger.LogDebug(e, "Connecting to {Source} ahead of its turn failed; it is tried again when it is listened to", source.Name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        foreach (var source in _sources)
        {
            await source.DisposeAsync();
        }
    }

    private enum Step { Job, Ended, Failed }

    /// <summary>One source's subscription for one processor: opened when the processor waits, closed when a job from elsewhere runs.</summary>
    private sealed class SourceListener(IJobQueue source, TimeSpan retryPause, ILogger logger)
    {
        private CancellationTokenSource? _subscription;
        private IAsyncEnumerator<IJob>? _jobs;
        private bool _ended;

        /// <summary>Until when (<see cref="Environment.TickCount64"/>) it sits out the turns alone, after one without a job.</summary>
        public long RestsUntil { get; set; }

        /// <summary>Its source said it has no more jobs.</summary>
        public bool Ended => _ended;

        /// <summary>The wait for its next job, while one is asked for.</summary>
        public Task<Step>? Next { get; private set; }

        public IJob Current => _jobs!.Current;

        public void Listen(CancellationToken ct)
        {
            if (_ended || Next is not null)
            {
                return;
            }
            if (_jobs is null)
            {
                _subscription = CancellationTokenSource.CreateLinkedTokenSource(ct);
                _jobs = source.ReceiveAsync(_subscription.Token).GetAsyncEnumerator(_subscription.Token);
            }
            Next = NextAsync(_jobs, _subscription!.Token);
        }

        /// <summary>The job that came, if one did; notes a source that ended or failed.</summary>
        public IJob? TakeIfReady()
        {
            if (Next is not { IsCompleted: true } next)
            {
                return null;
            }
            Next = null;
            switch (next.Result)
            {
                case Step.Job:
                    return _jobs!.Current;
                case Step.Ended:
                    _ended = true;
                    break;
                case Step.Failed:
                    _jobs = null; // NextAsync disposed it and rested; the next Listen subscribes again
                    _subscription?.Dispose();
                    _subscription = null;
                    break;
            }
            return null;
        }

        /// <summary>A job the processor did not take goes back while its subscription can still settle it.</summary>
        public async Task GiveBackAsync(IJob job)
        {
            try
            {
                await job.GiveBackAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                // Unsettled, it goes back the way its source gives back any job it loses (AMQP: the channel closing).
                logger.LogWarning(e, "Could not give job {JobId} back to {Source}", job.Spec.JobId, source.Name);
            }
        }

        /// <summary>Ends the subscription; a job that came meanwhile goes back first.</summary>
        public async Task StopAsync()
        {
            if (_jobs is null)
            {
                return;
            }
            await _subscription!.CancelAsync();
            if (Next is { } next && await next == Step.Job)
            {
                await GiveBackAsync(_jobs.Current);
            }
            Next = null;
            await DisposeQuietlyAsync(_jobs);
            _jobs = null;
            _subscription.Dispose();
            _subscription = null;
        }

        private async Task<Step> NextAsync(IAsyncEnumerator<IJob> jobs, CancellationToken subscription)
        {
            try
            {
                return await jobs.MoveNextAsync() ? Step.Job : Step.Ended;
            }
            catch (OperationCanceledException) when (subscription.IsCancellationRequested)
            {
                return Step.Ended;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Receiving jobs from {Source} failed; subscribing again in {Pause}", source.Name, retryPause);
            }
            await DisposeQuietlyAsync(jobs);
            try
            {
                await Task.Delay(retryPause, subscription);
            }
            catch (OperationCanceledException)
            {
            }
            return Step.Failed;
        }

        private async Task DisposeQuietlyAsync(IAsyncEnumerator<IJob> jobs)
        {
            try
            {
                await jobs.DisposeAsync();
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Closing the subscription to {Source}", source.Name);
            }
        }
    }
}
