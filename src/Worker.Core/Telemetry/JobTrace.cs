using System.Diagnostics;
using System.Text.RegularExpressions;
using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;

namespace Worker.Core.Telemetry;

/// <summary>
/// One job's telemetry: its span (<c>job</c>, a child of the trace context the job came with),
/// a child span per pipeline step, entered through the processor's <see cref="ProcessorStatus"/>
/// as the pipeline moves on (so each step is traced where it is already announced), and the job's
/// metrics: queue wait, running jobs, step durations by backend, and how it ended. The metrics are
/// kept with or without a trace listener; spans exist only when one listens. While the job runs,
/// its secrets are masked in the worker's own log too (<see cref="Logs.RunningJobSecrets"/>).
/// </summary>
public sealed partial class JobTrace : IDisposable
{
    /// <summary>The span names of the pipeline's steps (<see cref="JobSteps"/>).</summary>
    private static readonly Dictionary<string, string> StepSpans = new(StringComparer.Ordinal)
    {
        [JobSteps.GenerateScript] = "generate script",
        [JobSteps.Received] = "report received",
        [JobSteps.OpenLog] = "open log",
        [JobSteps.StartInstance] = "start machine",
        [JobSteps.UploadScript] = "upload script",
        [JobSteps.Started] = "report started",
        [JobSteps.RunScript] = "run script",
        [JobSteps.CloseLog] = "close log",
        [JobSteps.Finish] = "report result",
        [JobSteps.StopInstance] = "stop machine",
    };

    /// <summary>The name of a job's span.</summary>
    public const string SpanName = "job";

    private readonly Activity? _job;
    private readonly Activity? _outer;
    private readonly ProcessorStatus? _status;
    private readonly string _backend;
    private readonly IReadOnlyList<string> _secrets;
    private readonly IDisposable _secretsInLogs;
    private readonly ActivityContext _incoming;
    private Activity? _step;
    private string? _stepName;
    private long _stepStarted;
    private string? _stepError;
    private bool _recorded;
    private bool _disposed;

    private JobTrace(IJob job, string backend, string host, ProcessorStatus? status)
    {
        var payload = job.Payload;
        _backend = backend;
        _status = status;
        _secrets = payload.SecretValues;
        _secretsInLogs = Logs.RunningJobSecrets.Register(_secrets);
        _incoming = JobTraceContext.Of(payload);
        _outer = Activity.Current;
        // A job's span is the root of its own trace unless the job brought a parent: never a child of whatever ran before.
        Activity.Current = null;
        _job = WorkerTelemetry.Source.StartActivity(SpanName, ActivityKind.Consumer, _incoming);
        if (_job is not null)
        {
            _job.SetTag(TraceAttributes.JobId, payload.JobId);
            _job.SetTag(TraceAttributes.JobNumber, payload.JobNumber);
            _job.SetTag(TraceAttributes.Repository, payload.RepositorySlug);
            _job.SetTag(TraceAttributes.Queue, payload.QueueName);
            _job.SetTag(TraceAttributes.Backend, backend);
            _job.SetTag(TraceAttributes.Host, host);
            _job.SetTag(TraceAttributes.Image, payload.Image);
            _job.SetTag(TraceAttributes.RequeueCount, job.RequeueCount);
        }
        if (payload.QueuedAt is { } queuedAt && DateTimeOffset.UtcNow - queuedAt is { } wait && wait >= TimeSpan.Zero)
        {
            WorkerMetrics.QueueWait.Record(wait.TotalSeconds, new KeyValuePair<string, object?>(TraceAttributes.Backend, backend));
            _job?.SetTag(TraceAttributes.QueueWait, Math.Round(wait.TotalSeconds, 3));
        }
        WorkerMetrics.JobsRunning.Add(1, new KeyValuePair<string, object?>(TraceAttributes.Backend, backend));
        if (status is not null)
        {
            status.Trace = this;
        }
    }

    /// <summary>Starts the job's span and metrics; <paramref name="status"/> then opens a step span at each step it enters.</summary>
    public static JobTrace Start(IJob job, string backend, string host, ProcessorStatus? status = null) => new(job, backend, host, status);

    /// <summary>The context the job's own spans should join: the job's span, else the context it came with.</summary>
    public ActivityContext Context => _job?.Context ?? _incoming;

    /// <summary>The script with this job's <c>TRACEPARENT</c>/<c>TRACESTATE</c> exported at its top.</summary>
    public string ExportContext(string script) => JobTraceContext.Export(script, Context);

    /// <summary>The job's machine is up.</summary>
    public void Machine(IInstance instance)
    {
        _job?.SetTag(TraceAttributes.InstanceId, instance.Id);
        _job?.SetTag(TraceAttributes.Image, instance.ImageName);
        _step?.SetTag(TraceAttributes.InstanceId, instance.Id);
    }

    /// <summary>What happened and what was decided: the span's outcome and the finished/requeued counts.</summary>
    public void Record(JobOutcome outcome, Verdict verdict)
    {
        if (_recorded)
        {
            return;
        }
        _recorded = true;
        var kind = KindOf(outcome);
        var state = verdict.Requeue ? "requeued" : (verdict.State ?? FinishState.Errored).WireName();
        var backend = new KeyValuePair<string, object?>(TraceAttributes.Backend, _backend);
        if (verdict.Requeue)
        {
            WorkerMetrics.JobsRequeued.Add(1, backend,
                new KeyValuePair<string, object?>(TraceAttributes.RequeueReason, kind),
                new KeyValuePair<string, object?>(TraceAttributes.RequeueCounted, verdict.RequeueCounted));
        }
        else
        {
            WorkerMetrics.JobsFinished.Add(1, backend, new KeyValuePair<string, object?>("state", state));
        }
        // The step the job was in failed, unless the job ended because its script did.
        if (outcome is not (JobOutcome.Exited or JobOutcome.TimedOut or JobOutcome.LogSilence or JobOutcome.LogTooLong))
        {
            _stepError = Masked(verdict.Message ?? outcome.ToString());
        }
        if (_job is null)
        {
            return;
        }
        _job.SetTag(TraceAttributes.Outcome, kind);
        _job.SetTag(TraceAttributes.State, state);
        if (outcome is JobOutcome.Exited exited)
        {
            _job.SetTag(TraceAttributes.ExitCode, exited.ExitCode);
        }
        if (verdict.Requeue || verdict.State == FinishState.Errored)
        {
            _job.SetStatus(ActivityStatusCode.Error, Masked(verdict.Message ?? outcome.ToString()));
        }
    }

    /// <summary>Called by <see cref="ProcessorStatus.Enter"/>: ends the step span that ran and opens the next.</summary>
    internal void EnterStep(string step)
    {
        if (_disposed || step == _stepName)
        {
            return;
        }
        EndStep();
        _stepName = step;
        _stepStarted = Stopwatch.GetTimestamp();
        if (_job is not null)
        {
            // Siblings under the job's span, whichever step ran before.
            Activity.Current = _job;
            _step = WorkerTelemetry.Source.StartActivity(StepSpans.GetValueOrDefault(step, step), ActivityKind.Internal);
            _step?.SetTag(TraceAttributes.Step, StepSpans.GetValueOrDefault(step, step));
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        EndStep();
        _disposed = true;
        if (_status is not null && _status.Trace == this)
        {
            _status.Trace = null;
        }
        WorkerMetrics.JobsRunning.Add(-1, new KeyValuePair<string, object?>(TraceAttributes.Backend, _backend));
        _secretsInLogs.Dispose();
        _job?.Dispose();
        Activity.Current = _outer;
    }

    private void EndStep()
    {
        if (_stepName is null)
        {
            return;
        }
        var seconds = Stopwatch.GetElapsedTime(_stepStarted).TotalSeconds;
        var failed = _stepError is not null;
        var histogram = _stepName switch
        {
            JobSteps.StartInstance => WorkerMetrics.BootDuration,
            JobSteps.UploadScript => WorkerMetrics.UploadDuration,
            JobSteps.RunScript => WorkerMetrics.RunDuration,
            JobSteps.StopInstance => WorkerMetrics.TeardownDuration,
            _ => null,
        };
        histogram?.Record(seconds,
            new KeyValuePair<string, object?>(TraceAttributes.Backend, _backend),
            new KeyValuePair<string, object?>(TraceAttributes.Result, failed ? "error" : "ok"));
        if (_step is not null)
        {
            _step.SetTag(TraceAttributes.StepResult, failed ? "error" : "ok");
            if (failed)
            {
                _step.SetStatus(ActivityStatusCode.Error, _stepError);
            }
            _step.Dispose();
        }
        _step = null;
        _stepName = null;
        _stepError = null;
    }

    private string Masked(string text)
    {
        foreach (var secret in _secrets.Where(s => s.Length > 0).OrderByDescending(s => s.Length))
        {
            text = text.Replace(secret, Logs.SecretMasker.Mask, StringComparison.Ordinal);
        }
        return text;
    }

    /// <summary>The outcome's kind in snake case: <c>exited</c>, <c>host_failure</c>, <c>timed_out</c>...</summary>
    public static string KindOf(JobOutcome outcome) => Words().Replace(outcome.GetType().Name, "$1_$2").ToLowerInvariant();

    [GeneratedRegex("([a-z])([A-Z])")]
    private static partial Regex Words();
}
