using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Registration;

/// <summary>What a registration builds its backend, queue or submitter from: the validated settings and the worker's shared parts.</summary>
public sealed record WorkerServices(
    SettingsSource Settings,
    WorkerOptions Options,
    MachineLabels Labels,
    JobCancellations Cancellations,
    ILoggerFactory Loggers)
{
    /// <summary>The worker's backend (<c>WORKER_PROVIDER_NAME</c>); job-board is told it as the job's infrastructure, as travis-worker told it.</summary>
    public string BackendName { get; init; } = "";
}
