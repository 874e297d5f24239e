namespace Worker.Amqp.Tests;

/// <summary>Its own broker, because these tests take it down.</summary>
[Trait("Category", "Integration")]
public sealed class BrokerOutageTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task Log_of_a_job_that_runs_through_a_broker_restart_arrives_whole_in_order_without_gaps_and_the_job_runs_once()
    {
        var queue = "builds.outage-" + Guid.NewGuid().ToString("N")[..8];
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("LOG_PART_MAX_SIZE", "64"));
        const int Lines = 120;
        var payload = Broker.Job($"script: [\"for i in $(seq 1 {Lines}); do echo line $i; sleep 0.1; done\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);
        await tap.WaitAsync(payload.JobId, seen => seen.Count(m => m.IsLog) >= 5, TimeSpan.FromSeconds(30));

        await broker.RestartAsync(down: TimeSpan.FromSeconds(2));
        var seen = await tap.FinishedAsync(payload.JobId, TimeSpan.FromSeconds(90));

        // A part the broker had taken but not yet confirmed when it went down is sent again: AMQP
        // confirms make delivery at-least-once. Such a copy is identical, carries the same message
        // id, and travis-logs keeps one part per number; nothing else may repeat, and nothing may be missing.
        var arrived = seen.Where(m => m.IsLog).ToList();
        var logs = arrived.DistinctBy(l => l.Number).ToList();
        var first = new Dictionary<int, Reported>();
        foreach (var part in arrived)
        {
            // In arrival order: a part whose number came before is a copy of that part, to the byte.
            if (first.TryGetValue(part.Number, out var original))
            {
                Assert.True(part.MessageId == original.MessageId && part.Body.GetRawText() == original.Body.GetRawText(),
                    $"part {part.Number} arrived again, not as a copy of the first:\n{original.Body.GetRawText()}\n{part.Body.GetRawText()}");
            }
            else
            {
                first[part.Number] = part;
            }
        }
        Assert.Equal(Enumerable.Range(0, logs.Count), logs.Select(l => l.Number));
        Assert.True(logs[^1].Final);
        Assert.DoesNotContain(logs[..^1], l => l.Final);
        var lines = string.Concat(logs.Select(l => l.Log)).Split('\n').Where(l => l.StartsWith("line ", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enumerable.Range(1, Lines).Select(i => $"line {i}"), lines);
        // One run: the redelivery RabbitMQ makes after the restart is taken over by the running job.
        Assert.Equal(["received", "started", "passed"], seen.Where(m => m.IsState).DistinctBy(m => m.StateUpdateCount).Select(m => m.State));
        await Eventually.TrueAsync(async () => await Broker.CountAsync(broker.Uri, queue) == 0, queue + " is empty");
        await Task.Delay(1000);
        Assert.Equal(["received", "started", "passed"], tap.Of(payload.JobId).Where(m => m.IsState).DistinctBy(m => m.StateUpdateCount).Select(m => m.State));
    }
}
