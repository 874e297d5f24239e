using System.Text.RegularExpressions;

namespace Worker.Amqp.Tests;

[Trait("Category", "Integration")]
public sealed partial class WireFormatTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]
    private static partial Regex Rfc3339WholeSecondsUtc();

    [Fact]
    public async Task Job_that_passes_is_reported_to_travis_hub_and_travis_logs_in_their_wire_format_and_then_acked()
    {
        var queue = "builds.wire-" + Guid.NewGuid().ToString("N")[..8];
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue);
        var payload = Broker.Job("script: [\"echo hello from the job\"]", queue);
        payload.Root["meta"]!["state_update_count"] = 5;
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        var states = seen.Where(m => m.IsState).ToList();
        Assert.Equal(["received", "started", "passed"], states.Select(s => s.State));
        Assert.Equal(["job:test:receive", "job:test:start", "job:test:finish"], states.Select(s => s.Type));
        Assert.Equal([5, 6, 7], states.Select(s => s.StateUpdateCount));
        Assert.Equal([$"{payload.JobId}.state.5", $"{payload.JobId}.state.6", $"{payload.JobId}.state.7"], states.Select(s => s.MessageId));
        Assert.All(seen, m =>
        {
            Assert.Equal("reporting", m.Exchange);
            Assert.Equal("application/json", m.ContentType);
            Assert.True(m.Persistent);
            Assert.Equal(payload.JobId, m.JobId);
        });
        Assert.All(states, s => Assert.Equal("reporting.jobs.builds", s.RoutingKey));
        var started = states[1].Body;
        Assert.StartsWith("local-", started.GetProperty("meta").GetProperty("instance_id").GetString());
        foreach (var field in new[] { "queued_at", "received_at", "started_at" })
        {
            Assert.Matches(Rfc3339WholeSecondsUtc(), started.GetProperty(field).GetString());
        }
        Assert.Matches(Rfc3339WholeSecondsUtc(), states[2].Body.GetProperty("finished_at").GetString());

        var logs = seen.Where(m => m.IsLog).ToList();
        Assert.All(logs, l =>
        {
            Assert.Equal("job:test:log", l.Type);
            Assert.Equal("reporting.jobs.logs", l.RoutingKey);
            Assert.Equal(payload.Uuid, l.Body.GetProperty("uuid").GetString());
        });
        Assert.Equal(Enumerable.Range(0, logs.Count), logs.Select(l => l.Number));
        Assert.Equal(logs.Select(l => $"{payload.JobId}.log.{l.Number}"), logs.Select(l => l.MessageId));
        Assert.Equal([.. Enumerable.Repeat(false, logs.Count - 1), true], logs.Select(l => l.Final));
        Assert.Contains("hello from the job", string.Concat(logs.Select(l => l.Log)));
        // The final log part reached the broker before the finish state did.
        Assert.True(seen.ToList().FindLastIndex(m => m.IsLog) < seen.ToList().FindIndex(m => m.State == "passed"));

        await worker.DisposeAsync();
        Assert.Equal(0u, await Broker.CountAsync(broker.Uri, queue)); // acked: nothing comes back when the worker leaves
    }

    [Fact]
    public async Task Payloads_that_cant_be_used_are_dead_lettered_with_the_reason_and_the_worker_keeps_serving()
    {
        var queue = "builds.dead-" + Guid.NewGuid().ToString("N")[..8];
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue);
        await Broker.PublishAsync(broker.Uri, "", queue, "this is not json"u8.ToArray());
        await Broker.PublishAsync(broker.Uri, "", queue, """{"type":"job:test","config":{}}"""u8.ToArray());
        await Broker.PublishAsync(broker.Uri, "", queue, """{"job":{"id":7},"config":"not an object"}"""u8.ToArray());
        var good = Broker.Job("script: [\"echo still serving\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, good);

        var seen = await tap.FinishedAsync(good.JobId, Patience);

        Assert.Equal("passed", seen.Last(m => m.IsState).State);
        var dead = await Broker.DrainAsync(broker.Uri, AmqpNames.DeadLetterQueue(queue));
        Assert.Equal(3, dead.Count);
        var reasons = dead.Select(d => System.Text.Encoding.UTF8.GetString((byte[])d.BasicProperties.Headers![AmqpNames.ErrorHeader]!)).ToList();
        Assert.Contains("not JSON", reasons[0]);
        Assert.Contains("job", reasons[1]);
        Assert.Contains("config must be a JSON object", reasons[2]);
        Assert.Equal("this is not json", System.Text.Encoding.UTF8.GetString(dead[0].Body.Span));
        Assert.Equal(0u, await Broker.CountAsync(broker.Uri, queue));
    }

    [Fact]
    public async Task Logs_on_their_own_connection_still_arrive_whole_and_before_the_finish_state()
    {
        var queue = "builds.logsuri-" + Guid.NewGuid().ToString("N")[..8];
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("LOGS_AMQP_URI", broker.Uri.ToString()), ("LOG_PART_MAX_SIZE", "32"));
        var payload = Broker.Job("script: [\"for i in 1 2 3 4 5 6 7 8 9 10; do echo separate log connection $i; done\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = (await tap.FinishedAsync(payload.JobId, Patience)).ToList();

        var logs = seen.Where(m => m.IsLog).ToList();
        Assert.Equal(Enumerable.Range(0, logs.Count), logs.Select(l => l.Number));
        Assert.True(logs[^1].Final);
        Assert.Contains("separate log connection 10", string.Concat(logs.Select(l => l.Log)));
        Assert.True(seen.FindLastIndex(m => m.IsLog) < seen.FindIndex(m => m.State == "passed"));
    }

    [Fact]
    public async Task Quorum_job_queue_is_declared_as_quorum_and_serves_jobs()
    {
        var queue = "builds.quorum-" + Guid.NewGuid().ToString("N")[..8];
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("AMQP_QUEUE_TYPE", "quorum"), ("PROVIDER_NAME", "fake"));
        var payload = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        Assert.Equal("passed", seen.Last(m => m.IsState).State);
        var listed = await broker.CtlAsync("list_queues", "name", "type");
        Assert.Contains(listed.Split('\n'), line => line.StartsWith(queue + "\t", StringComparison.Ordinal) && line.Contains("quorum", StringComparison.Ordinal));
        Assert.Contains(listed.Split('\n'), line => line.StartsWith(AmqpNames.DeadLetterQueue(queue) + "\t", StringComparison.Ordinal) && line.Contains("quorum", StringComparison.Ordinal));
    }
}
