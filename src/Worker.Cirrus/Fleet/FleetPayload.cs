using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Jobs;
using Worker.Core.Backends;
using Worker.Core.Jobs;

namespace Worker.Cirrus.Fleet;

/// <summary>
/// A Cirrus task as a job on the AMQP job queue (fleet mode): a travis-shaped payload whose job id is
/// the task's, with the whole <see cref="CirrusJobOrder"/> under <c>cirrus_task</c> (the isolation in
/// protobuf's JSON form). Any <c>worker run</c> host reads it back with <see cref="CirrusPayloadReader"/>.
/// The payload carries the task's two secrets, as a travis payload carries its secure variables.
/// </summary>
public static class FleetPayload
{
    public const string Key = "cirrus_task";

    public static JobPayload For(CirrusJobOrder order, DateTimeOffset queuedAt)
    {
        var agent = order.Agent;
        var task = new JsonObject
        {
            ["task_id"] = agent.TaskId,
            ["server_secret"] = agent.ServerSecret,
            ["client_secret"] = agent.ClientSecret,
            ["api_endpoint"] = agent.ApiEndpoint,
            ["worker_name"] = agent.WorkerName,
            ["traceparent"] = agent.Traceparent,
            ["tracestate"] = agent.Tracestate,
            ["agent_version"] = order.AgentVersion,
            ["isolation"] = JsonNode.Parse(JsonFormatter.Default.Format(order.Isolation)),
            ["softnet_allow"] = new JsonArray([.. (order.SoftnetAllow ?? []).Select(a => (JsonNode?)a)]),
        };
        if (order.AppendRun is { } run)
        {
            task["append_run"] = new JsonObject
            {
                ["lease"] = run.Lease,
                ["arguments"] = new JsonArray([.. run.Arguments.Select(a => (JsonNode?)a)]),
            };
        }
        var root = new JsonObject
        {
            ["type"] = "job:test",
            ["job"] = new JsonObject
            {
                ["id"] = order.JobId,
                ["number"] = agent.TaskId,
                ["queued_at"] = queuedAt.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            },
            ["repository"] = new JsonObject { ["slug"] = "cirrus-task-" + agent.TaskId },
            ["config"] = new JsonObject(),
            [Key] = task,
        };
        return JobPayload.FromNode(root);
    }

    /// <summary>The order a payload carries; null when it carries none (a travis job).</summary>
    /// <exception cref="InvalidJobPayloadException">It carries one that can't be read.</exception>
    public static CirrusJobOrder? Read(JobPayload payload)
    {
        if (payload.Root[Key] is not { } node)
        {
            return null;
        }
        if (node is not JsonObject task)
        {
            throw new InvalidJobPayloadException($"{Key} must be an object");
        }
        Isolation isolation;
        try
        {
            isolation = task["isolation"] is JsonObject i ? JsonParser.Default.Parse<Isolation>(i.ToJsonString()) : new Isolation { None = new() };
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidJobPayloadException($"{Key}.isolation: {e.Message}");
        }
        var agent = new AgentTask(
            Required(task, "task_id"),
            Required(task, "server_secret"),
            Required(task, "client_secret"),
            Required(task, "api_endpoint"),
            JobPayload.Str(task["worker_name"]) ?? "",
            JobPayload.Str(task["traceparent"]) ?? "",
            JobPayload.Str(task["tracestate"]) ?? "");
        RunArguments? appendRun = task["append_run"] is JsonObject run
            ? new RunArguments(JobPayload.Str(run["lease"]) ?? "", Strings(run["arguments"], $"{Key}.append_run.arguments"))
            : null;
        var order = new CirrusJobOrder(agent, isolation, Required(task, "agent_version"), appendRun, Strings(task["softnet_allow"], $"{Key}.softnet_allow"));
        if (order.JobId != payload.JobId)
        {
            throw new InvalidJobPayloadException($"job.id {payload.JobId} is not the id of task {agent.TaskId} ({order.JobId})");
        }
        return order;
    }

    private static string Required(JsonObject task, string key) =>
        JobPayload.Str(task[key]) is { Length: > 0 } value ? value : throw new InvalidJobPayloadException($"{Key}.{key} is missing");

    private static IReadOnlyList<string> Strings(JsonNode? node, string what) => node switch
    {
        null => [],
        JsonArray array => array.Select(a => JobPayload.Str(a) ?? throw new InvalidJobPayloadException($"{what} must list strings")).ToList(),
        _ => throw new InvalidJobPayloadException($"{what} must list strings"),
    };
}
