using System.Runtime.CompilerServices;

namespace Worker.Amqp;

/// <summary>
/// Awaiting this continues on the thread pool's global queue, behind work queued there already.
/// RabbitMQ.Client sends a frame from a loop that the frame's write queues there; a thread that
/// goes on with other work after an ack holds the ack back until another thread wakes for it.
/// Unlike <see cref="Task.Yield"/>, which may queue to this thread's own queue and run first.
/// </summary>
internal readonly struct BehindQueuedWork : ICriticalNotifyCompletion
{
    public BehindQueuedWork GetAwaiter() => this;

    public bool IsCompleted => false;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) => ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

    public void UnsafeOnCompleted(Action continuation) => ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
}
