using System.Collections.Concurrent;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>Keeps every log part it is handed, in order.</summary>
internal sealed class RecordingPartSink : ILogPartSink
{
    public ConcurrentQueue<LogPart> Parts { get; } = new();

    /// <summary>The log as a reader sees it: every part's content, in order.</summary>
    public string Text => string.Concat(Parts.OrderBy(p => p.Number).Select(p => p.Content));

    public ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        Parts.Enqueue(part);
        return ValueTask.CompletedTask;
    }
}
