namespace Worker.Amqp;

/// <summary>The exchanges, queues, routing keys and message types travis-hub and travis-logs know.</summary>
public static class AmqpNames
{
    public const string ReportingExchange = "reporting";
    public const string StateRoutingKey = "reporting.jobs.builds";
    public const string LogRoutingKey = "reporting.jobs.logs";
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
