using System.Diagnostics;
using System.Text.RegularExpressions;
using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Scripts;

namespace Worker.Core.Telemetry;

/// <summary>
/// One job's telemetry: its span (<c>job</c>, a child of the trace context the job came with), a
/// child span per stage (<see cref="Stages"/>), entered through the processor's
/// <see cref="ProcessorStatus"/> as the pipeline moves from step to step (so each stage is traced
/// where it is already announced), and the job's metrics: queue wait, running jobs, boot, upload,
/// run and teardown durations by backend, and how it ended. The metrics are kept with or without a
/// trace listener; spans exist only when one listens. While the job runs, its secrets are masked in
/// the worker's own log too (<see cref="Logs.RunningJobSecrets"/>).
/// </summary>
public sealed partial class JobTrace : IDisposable
{
    /// <summary>The name of a job's span.</summary>
    public const string SpanName = "job";

    /// <summary>
    /// The stages a job's span is divided into, in order, each a child span, and the pipeline steps
    /// (<see cref="JobSteps"/>) each covers: few enough that tracing every job stays cheap.
    /// </summary>
    public static readonly IReadOnlyList<(string Span, string[] Steps)> Stages =
    [
        ("generate script", [JobSteps.GenerateScript]),
        ("receive", [JobSteps.Received, JobSteps.OpenLog]),
        ("start machine", [JobSteps.StartInstance]),
        ("upload script", [JobSteps.UploadScript]),
        ("run script", [JobSteps.Started, JobSteps.RunScript]),
        ("teardown", [JobSteps.CloseLog, JobSteps.Finish, JobSteps.StopInstance]),
    ];

    private static readonly Dictionary<string, string> StageOfStep =
        Stages.SelectMany(s => s.Steps.Select(step => (step, s.Span))).ToDictionary(p => p.step, p => p.Span, StringComparer.Ordinal);

    private readonly Activity? _job;
    private readonly Activity? _outer;
    private readonly ProcessorStatus? _status;
    private readonly string _backend;
    private readonly IReadOnlyList<string> _secrets;
    private readonly IDisposable _secretsInLogs;
    private readonly ActivityContext _incoming;
    private Activity? _stage;
    private string? _stageName;
    private string? _step;
    private long _stepStarted;
    private string? _error;
    private bool _recorded;
    private bool _disposed;

    private JobTrace(IJob job, string backend, string host, ProcessorStatus? status)
    {
        var spec = job.Spec;
        var payload = spec.Payload; // a travis job's; a job of another kind (a Cirrus task) has none
        _backend = backend;
        _status = status;
        _secrets = spec.Secrets;
        _secretsInLogs = Logs.RunningJobSecrets.Register(_secrets);
        _incoming = payload is null ? default : JobTraceContext.Of(payload);
        _outer = Activity.Current;
        // A job's span is the root of its own trace unless the job brought a parent: never a child of whatever ran before.
        Activity.Current = null;
        TimeSpan? queueWait = payload?.QueuedAt is { } queuedAt && DateTimeOffset.UtcNow - queuedAt is { } wait && wait >= TimeSpan.Zero ? wait : null;
        if (WorkerTelemetry.Source.HasListeners())
        {
            // The span's attributes as it is made, in one list: added one by one, each takes the span's lock.
            var tags = new List<KeyValuePair<string, object?>>(10) { new(TraceAttributes.JobId, spec.JobId) };
            if (payload is not null)
            {
                tags.Add(new(TraceAttributes.JobNumber, payload.JobNumber));
                tags.Add(new(TraceAttributes.Repository, payload.RepositorySlug));
                tags.Add(new(TraceAttributes.Queue, payload.QueueName));
            }
            tags.Add(new(TraceAttributes.Backend, spec.Backend ?? backend));
            tags.Add(new(TraceAttributes.Host, host));
            tags.Add(new(TraceAttributes.RequeueCount, job.RequeueCount));
            if (payload?.Image is { } image)
            {
                tags.Add(new(TraceAttributes.Image, image)); // replaced by the machine's image when it is up
            }
            if (queueWait is { } w)
            {
                tags.Add(new(TraceAttributes.QueueWait, Math.Round(w.TotalSeconds, 3)));
            }
            _job = WorkerTelemetry.Source.StartActivity(SpanName, ActivityKind.Consumer, _incoming, tags);
        }
        if (queueWait is { } waited)
        {
            WorkerMetrics.QueueWait.Record(waited.TotalSeconds, new KeyValuePair<string, object?>(TraceAttributes.Backend, backend));
        }
        WorkerMetrics.JobsRunning.Add(1, new KeyValuePair<string, object?>(TraceAttributes.Backend, backend));
        if (status is not null)
        {
            status.Trace = this;
        }
    }

    /// <summary>Starts the job's span and metrics; <paramref name="status"/> then opens a stage span as it enters each step.</summary>
    public static JobTrace Start(IJob job, string backend, string host, ProcessorStatus? status = null) => new(job, backend, host, status);

    /// <summary>The context the job's own spans should join: the job's span, else the context it came with.</summary>
    public ActivityContext Context => _job?.Context ?? _incoming;

    /// <summary>The script with this job's <c>TRACEPARENT</c>/<c>TRACESTATE</c> exported at its top.</summary>
    public JobScript ExportContext(JobScript script)
    {
        var context = Context;
        return script with
        {
            Text = JobTraceContext.Export(script.Text, context),
            ForMachine = script.ForMachine is { } forMachine ? id => JobTraceContext.Export(forMachine(id), context) : null,
        };
    }

    /// <summary>The job's machine is up.</summary>
    public void Machine(IInstance instance)
    {
        _job?.AddTag(TraceAttributes.InstanceId, instance.Id);
        _job?.SetTag(TraceAttributes.Image, instance.ImageName);
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
        var state = verdict.Requeue ? "requeued" : verdict.DeadLetter ? "dead_lettered" : (verdict.State ?? FinishState.Errored).WireName();
        var backend = new KeyValuePair<string, object?>(TraceAttributes.Backend, _backend);
        if (verdict.Requeue)
        {
            WorkerMetrics.JobsRequeued.Add(1, backend,
                new KeyValuePair<string, object?>(TraceAttributes.RequeueReason, kind),
                new KeyValuePair<string, object?>(TraceAttributes.RequeueCounted, verdict.RequeueCounted));
        }
        else if (!verdict.DeadLetter) // the queue counts its dead letters (worker.jobs.dead_lettered)
        {
            WorkerMetrics.JobsFinished.Add(1, backend, new KeyValuePair<string, object?>("state", state));
        }
        // The step the job was in failed, unless the job ended because its script did.
        if (outcome is not (JobOutcome.Exited or JobOutcome.TimedOut or JobOutcome.LogSilence or JobOutcome.LogTooLong))
        {
            _error = Masked(verdict.Message ?? outcome.ToString());
        }
        if (_job is null)
        {
            return;
        }
        _job.AddTag(TraceAttributes.Outcome, kind);
        _job.AddTag(TraceAttributes.State, state);
        if (outcome is JobOutcome.Exited exited)
        {
            _job.AddTag(TraceAttributes.ExitCode, exited.ExitCode);
        }
        if (verdict.Requeue || verdict.State == FinishState.Errored)
        {
            _job.SetStatus(ActivityStatusCode.Error, Masked(verdict.Message ?? outcome.ToString()));
        }
    }

    /// <summary>Called by <see cref="ProcessorStatus.Enter"/>: times the step, and opens the next stage's span when the step begins one.</summary>
    internal void EnterStep(string step)
    {
        if (_disposed || step == _step)
        {
            return;
        }
        EndStep();
        _step = step;
        _stepStarted = Stopwatch.GetTimestamp();
        var stage = StageOfStep.GetValueOrDefault(step, step);
        if (stage == _stageName)
        {
            return;
        }
        EndStage();
        _stageName = stage;
        if (_job is not null)
        {
            // Siblings under the job's span, whichever stage ran before.
            Activity.Current = _job;
            _stage = WorkerTelemetry.Source.StartActivity(stage, ActivityKind.Internal);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        EndStep();
        EndStage();
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

    /// <summary>The step's duration into its histogram (boot, upload, run, teardown), with the result it had.</summary>
    private void EndStep()
    {
        var histogram = _step switch
        {
            JobSteps.StartInstance => WorkerMetrics.BootDuration,
            JobSteps.UploadScript => WorkerMetrics.UploadDuration,
            JobSteps.RunScript => WorkerMetrics.RunDuration,
            JobSteps.StopInstance => WorkerMetrics.TeardownDuration,
            _ => null,
        };
        histogram?.Record(Stopwatch.GetElapsedTime(_stepStarted).TotalSeconds,
            new KeyValuePair<string, object?>(TraceAttributes.Backend, _backend),
            new KeyValuePair<string, object?>(TraceAttributes.Result, _error is null ? "ok" : "error"));
        _step = null;
    }

    private void EndStage()
    {
        if (_stage is not null)
        {
            if (_error is not null)
            {
                _stage.SetStatus(ActivityStatusCode.Error, _error);
            }
            _stage.Dispose();
        }
        _stage = null;
        _stageName = null;
        _error = null;
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
    public static string KindOf(JobOutcome outcome) =>
        KindNames.GetOrAdd(outcome.GetType(), static type => Words().Replace(type.Name, "$1_$2").ToLowerInvariant());

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, string> KindNames = new();

    [GeneratedRegex("([a-z])([A-Z])")]
    private static partial Regex Words();
}
