using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Worker.Core.Telemetry;

namespace Worker.TestSupport;

/// <summary>
/// Listens to the worker's ActivitySource in this process, as an exporter would, and keeps every
/// span that ended. Other tests run in parallel, so a test finds its own spans by its job's id.
/// </summary>
internal sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _ended = new();

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == WorkerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ended.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Spans => [.. _ended];

    /// <summary>The one job span of <paramref name="jobId"/>.</summary>
    public Activity Job(long jobId) => Assert.Single(Spans,
        s => s.OperationName == JobTrace.SpanName && s.GetTagItem(TraceAttributes.JobId) is long id && id == jobId);

    /// <summary>The spans whose parent is <paramref name="parent"/>, in the order they started.</summary>
    public IReadOnlyList<Activity> ChildrenOf(Activity parent) =>
        [.. Spans.Where(s => s.ParentSpanId == parent.SpanId && s.TraceId == parent.TraceId).OrderBy(s => s.StartTimeUtc)];

    /// <summary>Every span below <paramref name="parent"/>, at any depth.</summary>
    public IReadOnlyList<Activity> Below(Activity parent)
    {
        var all = Spans.Where(s => s.TraceId == parent.TraceId).ToList();
        var found = new List<Activity>();
        var frontier = new Queue<ActivitySpanId>([parent.SpanId]);
        while (frontier.TryDequeue(out var id))
        {
            foreach (var child in all.Where(s => s.ParentSpanId == id))
            {
                found.Add(child);
                frontier.Enqueue(child.SpanId);
            }
        }
        return found;
    }

    public static string? Tag(Activity span, string key) =>
        Convert.ToString(span.GetTagItem(key), CultureInfo.InvariantCulture);

    public void Dispose() => _listener.Dispose();
}
