using System.Diagnostics;
using OpenTelemetry;
using Worker.Core.Telemetry;

namespace Worker.Telemetry;

/// <summary>
/// <c>WORKER_TRACE_SAMPLE_RATE=N</c>: keeps the traces of 1 in N jobs, and of every job that
/// errored or was requeued, which only its end tells. So a job's spans are held until its span
/// ends (its steps and calls end before it) and then all go to the exporters, or none. A job
/// not chosen at its start carries the not-sampled flag meanwhile (its <c>TRACEPARENT</c> says
/// so); spans outside jobs (cleanup passes, probes) always go.
/// </summary>
public sealed class JobSampling(int keepOneIn, BaseProcessor<Activity> exporters) : BaseProcessor<Activity>
{
    private const string HeldKey = "worker.sampling";
    private static readonly HashSet<string> AlwaysKept = new(StringComparer.Ordinal) { "errored", "requeued", "dead_lettered" };

    private long _jobs;

    public override void OnStart(Activity activity)
    {
        if (IsJob(activity))
        {
            var chosen = (Interlocked.Increment(ref _jobs) - 1) % keepOneIn == 0;
            if (!chosen)
            {
                activity.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
            }
            activity.SetCustomProperty(HeldKey, new Held(chosen));
        }
        exporters.OnStart(activity);
    }

    public override void OnEnd(Activity activity)
    {
        var root = activity;
        while (root.Parent is { } parent)
        {
            root = parent;
        }
        if (root.GetCustomProperty(HeldKey) is not Held held)
        {
            exporters.OnEnd(activity);
            return;
        }
        if (root == activity)
        {
            var keep = held.Chosen || activity.GetTagItem(TraceAttributes.State) is string state && AlwaysKept.Contains(state);
            foreach (var span in held.Decide(keep))
            {
                Export(span);
            }
            if (keep)
            {
                Export(activity);
            }
            return;
        }
        if (held.HoldOrKeep(activity))
        {
            Export(activity);
        }
    }

    protected override bool OnForceFlush(int timeoutMilliseconds) => exporters.ForceFlush(timeoutMilliseconds);

    protected override bool OnShutdown(int timeoutMilliseconds) => exporters.Shutdown(timeoutMilliseconds);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            exporters.Dispose();
        }
        base.Dispose(disposing);
    }

    private void Export(Activity span)
    {
        span.ActivityTraceFlags |= ActivityTraceFlags.Recorded;
        exporters.OnEnd(span);
    }

    private static bool IsJob(Activity activity) =>
        activity.Source == WorkerTelemetry.Source && activity.OperationName == JobTrace.SpanName && activity.Parent is null;

    /// <summary>The ended spans of one job until its end decides, and the decision after.</summary>
    private sealed class Held(bool chosen)
    {
        private readonly List<Activity> _spans = [];
        private bool? _keep;

        public bool Chosen => chosen;

        /// <summary>Holds a span of an undecided job (false), or says whether a late one is kept.</summary>
        public bool HoldOrKeep(Activity span)
        {
            lock (_spans)
            {
                if (_keep is { } keep)
                {
                    return keep;
                }
                _spans.Add(span);
                return false;
            }
        }

        /// <summary>The spans held so far when <paramref name="keep"/>, else none; later spans follow the decision.</summary>
        public List<Activity> Decide(bool keep)
        {
            lock (_spans)
            {
                _keep = keep;
                var held = keep ? [.. _spans] : new List<Activity>();
                _spans.Clear();
                return held;
            }
        }
    }
}
