using System.Collections.Concurrent;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>
/// A job whose transport fails or hangs where a test tells it to: opening the log, writing the
/// final log part, reporting the result. Notes each call in <see cref="Events"/>.
/// </summary>
internal sealed class ScriptedJob(JobPayload payload) : JobBase(payload, 0), ILogPartSink
{
    public ConcurrentQueue<string> Events { get; } = new();
    public bool FailOpenLog { get; init; }
    public bool FailFinish { get; init; }

    /// <summary>The final log part and the result never complete, whatever their token says.</summary>
    public bool Hang { get; init; }

    public override Task<ILogPartSink> OpenLogAsync(CancellationToken ct) =>
        FailOpenLog ? throw new IOException("the log connection is gone") : Task.FromResult<ILogPartSink>(this);

    public async ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        if (part.Final && Hang)
        {
            Events.Enqueue("final log part attempted");
            await new TaskCompletionSource().Task;
        }
    }

    protected override Task OnReceivedAsync(CancellationToken ct) => Task.CompletedTask;

    protected override Task OnStartedAsync(string instanceId, CancellationToken ct) => Task.CompletedTask;

    protected override async Task OnFinishAsync(FinishState state, CancellationToken ct)
    {
        Events.Enqueue("finish attempted");
        if (Hang)
        {
            await new TaskCompletionSource().Task;
        }
        if (FailFinish)
        {
            throw new IOException("the broker is gone");
        }
    }

    protected override Task OnRequeueAsync(string reason, bool counted, CancellationToken ct)
    {
        Events.Enqueue("requeued");
        return Task.CompletedTask;
    }
}
