using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;
using Worker.Core.Registration;

namespace Worker.Amqp;

/// <summary>RabbitMQ as a job source (<c>WORKER_QUEUE_TYPE=amqp</c>), travis-worker's wire protocol.</summary>
public static class AmqpRegistration
{
    private const string OnePublisher = "states and log parts go through one confirmed publisher per connection";

    public static JobSourceRegistration Source { get; } = new()
    {
        Name = "amqp",
        Summary = "amqp (RabbitMQ)",
        SettingsTitle = "AMQP transport (WORKER_QUEUE_TYPE=amqp)",
        Settings = AmqpOptions.All,
        CreateQueue = CreateQueue,
        CreateSubmitter = services => new AmqpSubmitter(AmqpOptions.Load(services.Settings), services.Options.JobQueueName,
            services.Loggers.CreateLogger("submit")),
        CreateDepth = services => new AmqpQueueDepth(AmqpOptions.Load(services.Settings), services.Options.JobQueueName,
            services.Loggers.CreateLogger<AmqpQueueDepth>()),
        TravisOnlySettings = new Dictionary<string, string>
        {
            ["STATE_UPDATE_POOL_SIZE"] = OnePublisher,
            ["LOG_POOL_SIZE"] = OnePublisher,
        },
    };

    /// <summary>The queue, with this host's record of finished jobs kept at <c>BASE_DIR/finished/QUEUE.jsonl</c>.</summary>
    public static AmqpJobQueue CreateQueue(WorkerServices services) =>
        new(AmqpOptions.Load(services.Settings) with { CloseTimeout = services.Options.Teardown }, services.Options.JobQueueName, services.Cancellations, services.Loggers,
            "worker " + services.Options.Host,
            new FinishedJobs(Path.Combine(services.Options.BaseDirectory, "finished", services.Options.JobQueueName + ".jsonl"),
                services.Loggers.CreateLogger<FinishedJobs>()));
}
