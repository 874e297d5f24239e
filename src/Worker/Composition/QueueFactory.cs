using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Queues;

namespace Worker.Composition;

/// <summary>Builds the job queue named by <c>WORKER_QUEUE_TYPE</c>. A new transport adds a case.</summary>
public static class QueueFactory
{
    public static IJobQueue Create(WorkerContext context, Func<long, ILogPartSink?>? logTee = null, long? onlyJobId = null) =>
        context.Options.JobSource switch
        {
            "file" => CreateFileQueue(context, logTee, onlyJobId),
            "amqp" => CreateAmqpQueue(context),
            var other => throw new InvalidSettingException("WORKER_QUEUE_TYPE", other, "file or amqp"),
        };

    public static Worker.Amqp.AmqpJobQueue CreateAmqpQueue(WorkerContext context) =>
        new(Worker.Amqp.AmqpOptions.Load(context.Settings), context.Options.JobQueueName, context.Cancellations, context.LoggerFactory,
            "worker " + context.Options.Host);

    public static FileJobQueue CreateFileQueue(WorkerContext context, Func<long, ILogPartSink?>? logTee = null, long? onlyJobId = null) =>
        new(context.Options.BaseDirectory, context.Options.JobQueueName, context.Options.FilePolling, context.Cancellations,
            context.LoggerFactory.CreateLogger<FileJobQueue>(), logTee, onlyJobId);
}
