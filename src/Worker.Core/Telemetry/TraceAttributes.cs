namespace Worker.Core.Telemetry;

/// <summary>The attribute names of the worker's spans and metrics (README: "Telemetry").</summary>
public static class TraceAttributes
{
    public const string JobId = "worker.job.id";
    public const string JobNumber = "worker.job.number";
    public const string Repository = "worker.repository.slug";
    public const string Queue = "worker.queue";
    public const string Backend = "worker.backend";
    public const string Host = "worker.host";
    public const string Image = "worker.image";
    public const string InstanceId = "worker.instance.id";
    public const string RequeueCount = "worker.job.requeue_count";
    public const string QueueWait = "worker.job.queue_wait_s";

    /// <summary>What happened (<c>exited</c>, <c>timed_out</c>, <c>infrastructure</c>, <c>host_failure</c>...).</summary>
    public const string Outcome = "worker.job.outcome";

    /// <summary>What was reported: a finish state, <c>requeued</c> or <c>dead_lettered</c>.</summary>
    public const string State = "worker.job.state";
    public const string ExitCode = "worker.script.exit_code";

    public const string RequeueReason = "reason";
    public const string RequeueCounted = "counted";
    public const string ErrorKind = "kind";
    public const string Result = "result";
    public const string Decision = "decision";
    public const string Operation = "worker.operation";

    // OpenTelemetry's semantic conventions, where one fits.
    public const string HttpMethod = "http.request.method";
    public const string HttpStatus = "http.response.status_code";
    public const string UrlPath = "url.path";
    public const string ServerAddress = "server.address";
    public const string ServerPort = "server.port";
    public const string ErrorType = "error.type";
    public const string ProcessExitCode = "process.exit.code";
    public const string ProcessId = "process.pid";
}
