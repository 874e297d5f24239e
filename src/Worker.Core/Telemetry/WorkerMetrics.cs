using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Worker.Core.Telemetry;

/// <summary>
/// The worker's metrics, on <see cref="WorkerTelemetry.Meter"/>. Names follow OpenTelemetry's
/// conventions (dots, units apart); the Prometheus exporter writes <c>worker.jobs.finished</c> as
/// <c>worker_jobs_finished_total</c>. README "Telemetry" says what each one means.
/// </summary>
public static class WorkerMetrics
{
    /// <summary>Seconds, from a quick container start to a long build.</summary>
    private static readonly InstrumentAdvice<double> Durations = new()
    {
        HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    };

    public static readonly Counter<long> JobsFinished = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.jobs.finished", "{job}", "Jobs that ended with a finish state reported (state: passed, failed, errored, cancelled), by backend.");

    public static readonly Counter<long> JobsRequeued = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.jobs.requeued", "{job}", "Jobs given back to their queue, by reason (the outcome: infrastructure, host_failure, shutdown...) and whether the requeue counts against WORKER_MAX_REQUEUES.");

    public static readonly Counter<long> JobsDeadLettered = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.jobs.dead_lettered", "{job}", "Job messages that could not be used and went to the dead-letter queue (AMQP QUEUE.dead, the file queue's dead.d).");

    public static readonly Histogram<double> QueueWait = WorkerTelemetry.Meter.CreateHistogram(
        "worker.job.queue_wait", "s", "Time from the job's queued_at to this worker receiving it.", advice: Durations);

    public static readonly Histogram<double> BootDuration = WorkerTelemetry.Meter.CreateHistogram(
        "worker.machine.boot.duration", "s", "Time to start a job's machine, by backend and result.", advice: Durations);

    public static readonly Histogram<double> UploadDuration = WorkerTelemetry.Meter.CreateHistogram(
        "worker.script.upload.duration", "s", "Time to upload a job's script into its machine, by backend and result.", advice: Durations);

    public static readonly Histogram<double> RunDuration = WorkerTelemetry.Meter.CreateHistogram(
        "worker.script.run.duration", "s", "Time a job's script ran, by backend and result.", advice: Durations);

    public static readonly Histogram<double> TeardownDuration = WorkerTelemetry.Meter.CreateHistogram(
        "worker.machine.teardown.duration", "s", "Time to stop and remove a job's machine, by backend.", advice: Durations);

    public static readonly Counter<long> LogBytes = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.job.log", "By", "Bytes of output jobs' scripts wrote to their logs.");

    public static readonly UpDownCounter<long> JobsRunning = WorkerTelemetry.Meter.CreateUpDownCounter<long>(
        "worker.jobs.running", "{job}", "Jobs this worker is running now, by backend.");

    public static readonly Counter<long> StandbyClaims = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.standby.claims", "{job}", "Jobs that took a warm standby machine (result=hit) or needed a fresh one while standbys are kept (result=miss), by backend.");

    public static readonly Counter<long> BackendErrors = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.backend.errors", "{error}", "Failed calls to a backend's API or tool (Docker API, Compute API, SSH, tart/vetu CLIs, Cirrus RPCs), by backend and kind.");

    public static readonly Counter<long> CleanupDecisions = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.cleanup.decisions", "{machine}", "Machines the cleanup sidecar looked at, by backend and decision (keep, delete).");

    public static readonly Counter<long> CleanupDeletions = WorkerTelemetry.Meter.CreateCounter<long>(
        "worker.cleanup.deletions", "{machine}", "Deletes the cleanup sidecar made, by backend and result (deleted, failed).");

    /// <summary>One backend call that failed: counted by backend and kind, and marked on its span.</summary>
    public static void BackendError(string backend, string kind) =>
        BackendErrors.Add(1, new TagList { { TraceAttributes.Backend, backend }, { TraceAttributes.ErrorKind, kind } });

    /// <summary>A job that wanted a standby machine: it got one (hit) or a fresh machine (miss).</summary>
    public static void StandbyClaim(string backend, bool hit) =>
        StandbyClaims.Add(1, new TagList { { TraceAttributes.Backend, backend }, { TraceAttributes.Result, hit ? "hit" : "miss" } });

    public static void CleanupDecision(string backend, bool delete) =>
        CleanupDecisions.Add(1, new TagList { { TraceAttributes.Backend, backend }, { TraceAttributes.Decision, delete ? "delete" : "keep" } });

    public static void CleanupDeletion(string backend, bool deleted) =>
        CleanupDeletions.Add(1, new TagList { { TraceAttributes.Backend, backend }, { TraceAttributes.Result, deleted ? "deleted" : "failed" } });

    public static void DeadLettered(string queueType) =>
        JobsDeadLettered.Add(1, new TagList { { "queue_type", queueType } });
}
