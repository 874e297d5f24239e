namespace Worker.Cirrus.Agent;

/// <summary>What the agent of one task is told: where Cirrus is, the task and its two secrets, and the trace context.</summary>
public sealed record AgentTask(
    string TaskId,
    string ServerSecret,
    string ClientSecret,
    string ApiEndpoint,
    string WorkerName,
    string Traceparent = "",
    string Tracestate = "")
{
    /// <summary>The values that must never appear in a log line.</summary>
    public IReadOnlyList<string> Secrets => new[] { ServerSecret, ClientSecret }.Where(s => s.Length > 0).ToList();

    /// <summary>cirrus-cli's <c>CIRRUS_SENTRY_TAGS</c>: task ID, worker name and the endpoint's host.</summary>
    public string SentryTags
    {
        get
        {
            var host = Uri.TryCreate(ApiEndpoint, UriKind.Absolute, out var uri) && uri.Host.Length > 0 ? uri.Authority : ApiEndpoint;
            return $"cirrus.task_id={TaskId},cirrus.upstream_worker_name={WorkerName},cirrus.upstream_hostname={host}";
        }
    }
}
