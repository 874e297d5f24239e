using System.Text.Json.Nodes;

namespace Worker.Amqp.Tests;

/// <summary>
/// travis-worker's log part <c>meta</c> ({queued_at, repo, queue, infra}), sent once, on the first
/// part after the job started: travis-logs measures "time to first log line" from it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LogPartMetaTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const string Script = "script: [\"for i in 1 2 3 4 5 6; do echo meta log line $i; sleep 0.1; done\"]";

    [Fact]
    public async Task Only_the_first_log_part_after_started_carries_the_meta_with_the_payloads_values_and_infra()
    {
        var queue = Broker.NewQueue("meta");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("INFRA", "gce"), ("LOG_PART_MAX_SIZE", "32"));
        var payload = Broker.Job(Script, queue);
        payload.Root["job"]!["queued_at"] = "2026-12-05T01:02:03.456+01:00"; // sent as the payload has it, not reformatted
        payload.Root["repository"]!["slug"] = "travis-ci/meta-example";
        payload.Root["queue"] = "builds.gce-meta"; // the payload's queue, not the one this worker consumes
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = (await tap.FinishedAsync(payload.JobId, Patience)).ToList();

        var carrier = Assert.Single(seen, m => m.IsLog && m.Body.TryGetProperty("meta", out _));
        var firstPartAfterStarted = seen.FindIndex(seen.FindIndex(m => m.State == "started"), m => m.IsLog);
        Assert.Equal(firstPartAfterStarted, seen.FindIndex(m => m.IsLog && m.Body.TryGetProperty("meta", out _)));
        var meta = carrier.Body.GetProperty("meta");
        Assert.Equal(
            [("queued_at", "2026-12-05T01:02:03.456+01:00"), ("repo", "travis-ci/meta-example"), ("queue", "builds.gce-meta"), ("infra", "gce")],
            meta.EnumerateObject().Select(p => (p.Name, p.Value.GetString())));
        Assert.Equal(["id", "log", "number", "uuid", "final", "meta"], carrier.Body.EnumerateObject().Select(p => p.Name));
        Assert.True(seen.Count(m => m.IsLog) > 2, "expected parts besides the one with the meta");
    }

    [Fact]
    public async Task Meta_names_the_job_queue_when_the_payload_has_none_and_sends_infra_empty_when_unset()
    {
        var queue = Broker.NewQueue("meta-noqueue");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue);
        var payload = Broker.Job(Script, queue);
        payload.Root.Remove("queue");
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        var meta = Assert.Single(seen, m => m.IsLog && m.Body.TryGetProperty("meta", out _)).Body.GetProperty("meta");
        Assert.Equal(queue, meta.GetProperty("queue").GetString());
        Assert.Equal("", meta.GetProperty("infra").GetString());
        Assert.Equal(payload.RepositorySlug, meta.GetProperty("repo").GetString());
        Assert.Equal(payload.Root["job"]!["queued_at"]!.GetValue<string>(), meta.GetProperty("queued_at").GetString());
    }

    [Fact]
    public async Task No_part_carries_a_meta_when_the_payload_has_no_queued_at_travis_logs_could_parse()
    {
        var queue = Broker.NewQueue("meta-noqueuedat");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue);
        var payload = Broker.Job(Script, queue);
        ((JsonObject)payload.Root["job"]!).Remove("queued_at");
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        Assert.Equal("passed", seen.Last(m => m.IsState).State);
        Assert.DoesNotContain(seen, m => m.IsLog && m.Body.TryGetProperty("meta", out _));
    }
}
