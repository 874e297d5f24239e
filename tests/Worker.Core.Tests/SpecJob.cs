using System.Collections.Concurrent;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>A job that carries a spec of its own (no travis payload), as a Cirrus task does; records what it is told, in order.</summary>
internal sealed class SpecJob(JobSpec spec, bool canRequeue = true) : IJob, ILogPartSink
{
    public JobSpec Spec { get; } = spec;
    public bool CanRequeue { get; } = canRequeue;
    public int RequeueCount => 0;
    public ConcurrentQueue<string> Events { get; } = new();
    public ConcurrentQueue<LogPart> Parts { get; } = new();

    /// <summary>Run when the job is told it ended (to look at the world at that moment).</summary>
    public Action? OnEnded { get; init; }

    public string Log => string.Concat(Parts.Select(p => p.Content));

    public Task ReceivedAsync(CancellationToken ct) => Note("received");

    public Task StartedAsync(string instanceId, CancellationToken ct) => Note("started");

    public Task FinishAsync(FinishState state, string? reason, CancellationToken ct) =>
        Note(reason is null ? $"finished:{state.WireName()}" : $"finished:{state.WireName()}:{reason}");

    public Task RequeueAsync(string reason, bool counted, CancellationToken ct) => Note("requeued:" + reason);

    public Task DeadLetterAsync(string reason, CancellationToken ct) => Note("dead-lettered:" + reason);

    public Task<ILogPartSink> OpenLogAsync(CancellationToken ct) => Task.FromResult<ILogPartSink>(this);

    public Task EndedAsync(CancellationToken ct)
    {
        OnEnded?.Invoke();
        return Note("ended");
    }

    public ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        Parts.Enqueue(part);
        return ValueTask.CompletedTask;
    }

    private Task Note(string what)
    {
        Events.Enqueue(what);
        return Task.CompletedTask;
    }
}
