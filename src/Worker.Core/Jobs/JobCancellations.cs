using System.Collections.Concurrent;

namespace Worker.Core.Jobs;

/// <summary>
/// Where cancel commands meet running jobs. Transports call <see cref="Cancel"/> (AMQP's
/// <c>worker.commands</c>, a file in the file queue's cancel folder, Ctrl-C in <c>worker exec</c>);
/// the pipeline subscribes per job and sees the cancellation wherever the job is.
/// </summary>
public sealed class JobCancellations
{
    private readonly ConcurrentDictionary<long, Subscription> _subscriptions = new();

    public Subscription Subscribe(long jobId)
    {
        var subscription = new Subscription(this, jobId);
        _subscriptions[jobId] = subscription;
        return subscription;
    }

    /// <summary>Cancels the job if it runs on this worker; false when it does not.</summary>
    public bool Cancel(long jobId, string reason)
    {
        if (!_subscriptions.TryGetValue(jobId, out var subscription))
        {
            return false;
        }
        subscription.Trigger(reason);
        return true;
    }

    public bool IsRunning(long jobId) => _subscriptions.ContainsKey(jobId);

    public sealed class Subscription : IDisposable
    {
        private readonly JobCancellations _owner;
        private readonly CancellationTokenSource _cts = new();

        internal Subscription(JobCancellations owner, long jobId)
        {
            _owner = owner;
            JobId = jobId;
        }

        public long JobId { get; }
        public CancellationToken Token => _cts.Token;
        public string? Reason { get; private set; }
        public bool IsCancelled => _cts.IsCancellationRequested;

        internal void Trigger(string reason)
        {
            Reason ??= reason;
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The job ended between lookup and cancel: nothing left to stop.
            }
        }

        public void Dispose()
        {
            _owner._subscriptions.TryRemove(new KeyValuePair<long, Subscription>(JobId, this));
            _cts.Dispose();
        }
    }
}
