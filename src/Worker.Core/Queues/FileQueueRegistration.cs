using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;
using Worker.Core.Registration;

namespace Worker.Core.Queues;

/// <summary>The file queue as a job source (<c>WORKER_QUEUE_TYPE=file</c>); its settings are the worker's own BASE_DIR and FILE_POLLING_INTERVAL.</summary>
public static class FileQueueRegistration
{
    public static JobSourceRegistration Source { get; } = new()
    {
        Name = "file",
        Summary = "file (folders under BASE_DIR)",
        CreateQueue = services => CreateQueue(services),
        CreateSubmitter = services => new FileJobSubmitter(CreateQueue(services)),
    };

    /// <param name="logTee">Also gets a job's log parts (<c>worker exec</c> prints them).</param>
    /// <param name="onlyJobId">Takes only this job (<c>worker exec</c>).</param>
    public static FileJobQueue CreateQueue(WorkerServices services, Func<long, ILogPartSink?>? logTee = null, long? onlyJobId = null) =>
        new(services.Options.BaseDirectory, services.Options.JobQueueName, services.Options.FilePolling, services.Cancellations,
            services.Loggers.CreateLogger<FileJobQueue>(), logTee, onlyJobId);
}
