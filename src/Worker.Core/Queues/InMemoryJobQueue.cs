using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>A queue in memory, for tests and benchmarks. Requeued jobs go to the back of it.</summary>
public sealed class InMemoryJobQueue : IJobQueue
{
    private readonly Channel<InMemoryJob> _channel = Channel.CreateUnbounded<InMemoryJob>();

    public string Name => "memory";
    public bool IsConnected => true;

    /// <summary>Every job ever handed out, in order (a requeued job appears once per attempt).</summary>
    public ConcurrentQueue<InMemoryJob> Delivered { get; } = new();

    public InMemoryJob Enqueue(JobPayload payload, int requeueCount = 0)
    {
        var job = new InMemoryJob(this, payload, requeueCount);
        _channel.Writer.TryWrite(job);
        return job;
    }

    public void Complete() => _channel.Writer.TryComplete();

    public ValueTask DisposeAsync()
    {
        Complete();
        return ValueTask.CompletedTask;
    }

    public async IAsyncEnumerable<IJob> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        while (true)
        {
            InMemoryJob job;
            try
            {
                if (!await _channel.Reader.WaitToReadAsync(ct))
                {
                    yield break;
                }
                if (!_channel.Reader.TryRead(out job!))
                {
                    continue;
                }
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            Delivered.Enqueue(job);
            yield return job;
        }
    }
}

/// <summary>A job of the <see cref="InMemoryJobQueue"/> that records everything reported about it.</summary>
public sealed class InMemoryJob : JobBase, ILogPartSink
{
    private readonly InMemoryJobQueue _queue;
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal InMemoryJob(InMemoryJobQueue queue, JobPayload payload, int requeueCount) : base(payload, requeueCount) => _queue = queue;

    public ConcurrentQueue<string> Events { get; } = new();
    public ConcurrentQueue<LogPart> Parts { get; } = new();
    public string? RequeueReason { get; private set; }
    public InMemoryJob? Requeued { get; private set; }

    public string? DeadLetterReason { get; private set; }

    /// <summary>Completes with "passed", "failed", "errored", "cancelled", "requeued" or "dead-lettered".</summary>
    public Task<string> Outcome => _ended.Task;

    public string Log => string.Concat(Parts.Select(p => p.Content));

    public override Task<ILogPartSink> OpenLogAsync(CancellationToken ct)
    {
        Events.Enqueue("log-opened");
        return Task.FromResult<ILogPartSink>(this);
    }

    public ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        Parts.Enqueue(part);
        return ValueTask.CompletedTask;
    }

    protected override Task OnReceivedAsync(CancellationToken ct)
    {
        Events.Enqueue("received");
        return Task.CompletedTask;
    }

    protected override Task OnStartedAsync(string instanceId, CancellationToken ct)
    {
        Events.Enqueue("started:" + instanceId);
        return Task.CompletedTask;
    }

    protected override Task OnFinishAsync(FinishState state, CancellationToken ct)
    {
        Events.Enqueue("finished:" + state.WireName());
        _ended.TrySetResult(state.WireName());
        return Task.CompletedTask;
    }

    protected override Task OnDeadLetterAsync(string reason, CancellationToken ct)
    {
        DeadLetterReason = reason;
        Events.Enqueue("dead-lettered");
        _ended.TrySetResult("dead-lettered");
        return Task.CompletedTask;
    }

    protected override Task OnRequeueAsync(string reason, bool counted, CancellationToken ct)
    {
        RequeueReason = reason;
        Events.Enqueue(counted ? "requeued" : "requeued-uncounted");
        Requeued = _queue.Enqueue(Payload, RequeueCount + (counted ? 1 : 0));
        _ended.TrySetResult("requeued");
        return Task.CompletedTask;
    }
}
