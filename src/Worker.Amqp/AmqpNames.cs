namespace Worker.Amqp;

/// <summary>The exchanges, queues, routing keys and message types travis-hub and travis-logs know.</summary>
public static class AmqpNames
{
    public const string ReportingExchange = "reporting";
    public const string StateRoutingKey = "reporting.jobs.builds";
    public const string LogRoutingKey = "reporting.jobs.logs";

    /// <summary>
    /// Where log parts go with <c>RABBITMQ_SHARDING</c>: an exchange of the rabbitmq_sharding plugin's
    /// type, which spreads the parts over one queue per shard by the hash of their routing key, the
    /// job id, so each job's parts stay in one queue, in order. A policy on the broker names the shards.
    /// </summary>
    public const string ShardedLogExchange = "reporting.jobs.logs_sharded";
    public const string ShardedExchangeType = "x-modulus-hash";
    public const string ShardingPlugin = "rabbitmq_sharding";
    public const string CommandsExchange = "worker.commands";
    public const string LogType = "job:test:log";
    public const string ReceiveType = "job:test:receive";
    public const string StartType = "job:test:start";
    public const string FinishType = "job:test:finish";
    public const string ResetType = "job:test:reset";
    public const string ErrorHeader = "x-worker-error";
    public const string RequeueCountHeader = "x-requeue-count";

    /// <summary>On a requeue copy: how many log parts the job's earlier attempts published; the next attempt numbers its parts on from there.</summary>
    public const string LogPartsHeader = "x-log-parts";

    public static string DeadLetterQueue(string queue) => queue + ".dead";
}
