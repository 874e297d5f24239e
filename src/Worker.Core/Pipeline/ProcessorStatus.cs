namespace Worker.Core.Pipeline;

/// <summary>What one processor is doing right now, for <c>/status</c> and the drain log.</summary>
public sealed class ProcessorStatus(string id)
{
    private volatile string _step = JobSteps.Idle;
    private long _jobId;

    public string Id { get; } = id;
    public long? JobId => Interlocked.Read(ref _jobId) is var id && id > 0 ? id : null;
    public string Step => _step;
    public DateTimeOffset? StepSince { get; private set; }
    public long Processed => Interlocked.Read(ref _processed);

    private long _processed;

    /// <summary>The running job's telemetry, which opens a span for each step entered (<see cref="Telemetry.JobTrace"/>).</summary>
    internal Telemetry.JobTrace? Trace { get; set; }

    public void Enter(long jobId, string step)
    {
        Interlocked.Exchange(ref _jobId, jobId);
        _step = step;
        StepSince = DateTimeOffset.UtcNow;
        Trace?.EnterStep(step);
    }

    public void Idle()
    {
        Interlocked.Exchange(ref _jobId, 0);
        Interlocked.Increment(ref _processed);
        _step = JobSteps.Idle;
        StepSince = DateTimeOffset.UtcNow;
    }

    /// <summary>Between jobs, waiting for something other than a job (e.g. the backend to come back).</summary>
    public void Pause(string step)
    {
        Interlocked.Exchange(ref _jobId, 0);
        _step = step;
        StepSince = DateTimeOffset.UtcNow;
    }

    public override string ToString() => JobId is { } job ? $"{Id}: job {job}, {Step}" : $"{Id}: {Step}";
}

/// <summary>The pipeline's steps, in order, as they appear in status and logs.</summary>
public static class JobSteps
{
    public const string Idle = "waiting for a job";
    public const string Paused = "taking no jobs until the backend answers a probe";
    public const string GenerateScript = "generating the script";
    public const string Received = "reporting received";
    public const string OpenLog = "opening the log";
    public const string StartInstance = "starting the machine";
    public const string UploadScript = "uploading the script";
    public const string Started = "reporting started";
    public const string RunScript = "running the script";
    public const string CloseLog = "closing the log";
    public const string Finish = "reporting the result";
    public const string StopInstance = "stopping the machine";
}
