namespace Worker.Amqp.Tests;

/// <summary>
/// A job requeued by republishing runs again as a new message, maybe on another worker, and
/// travis-logs sees one log: one part per number, the first final part its end. So the attempts
/// share one numbering and only the last attempt closes the log.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RequeuedLogTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task A_job_requeued_by_republishing_logs_one_numbering_across_its_attempts_with_one_final_part_at_the_end()
    {
        var queue = Broker.NewQueue("requeued-log");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        // Every run ends as if its machine died: the first attempt is requeued, the second (the cap reached) errored.
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue,
            ("PROVIDER_NAME", "fake"), ("FAKE_INCOMPLETE", "true"), ("MAX_REQUEUES", "1"), ("LOG_PART_MAX_SIZE", "64"));
        var job = Broker.Job("script: [\"true\"]", queue);
        job.Root["meta"]!["state_update_count"] = 5;

        await Broker.EnqueueAsync(broker.Uri, queue, job);
        var seen = await tap.FinishedAsync(job.JobId, Eventually.DefaultPatience);

        var states = seen.Where(m => m.IsState).ToList();
        Assert.Equal(["received", "started", "received", "started", "errored"], states.Select(s => s.State));
        // travis-hub takes an update whose count is at least the last one it took: the retry's go on from the first attempt's.
        Assert.Equal([5, 6, 7, 8, 9], states.Select(s => s.StateUpdateCount));
        var logs = seen.Where(m => m.IsLog).ToList();
        Assert.Equal(Enumerable.Range(0, logs.Count), logs.Select(l => l.Number));
        Assert.Equal(logs.Select(l => $"{job.JobId}.log.{l.Number}"), logs.Select(l => l.MessageId));
        Assert.Equal([.. Enumerable.Repeat(false, logs.Count - 1), true], logs.Select(l => l.Final));
        var text = string.Concat(logs.Select(l => l.Log));
        Assert.Contains("The job will be restarted on another machine", text);
        Assert.Contains("could not be run after 2 attempts", text);
        Assert.Equal(2, text.Split("Worker information").Length - 1);
        // The first attempt's parts all came before the second attempt began.
        var secondReceived = seen.ToList().FindLastIndex(m => m.State == "received");
        Assert.True(seen.ToList().FindLastIndex(m => m.IsLog && m.Log.Contains("will be restarted", StringComparison.Ordinal)) < secondReceived);
    }

    [Fact]
    public async Task The_next_attempt_of_a_job_requeued_by_republishing_numbers_its_log_parts_after_those_the_copy_says_were_sent()
    {
        var queue = Broker.NewQueue("requeued-header");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("PROVIDER_NAME", "fake"));
        var job = Broker.Job("script: [\"true\"]", queue);

        // A copy as a worker that requeued the job after 7 parts publishes it.
        await Broker.PublishAsync(broker.Uri, "", queue, job.ToUtf8Bytes(),
            headers: new Dictionary<string, object?> { [AmqpNames.RequeueCountHeader] = 1, [AmqpNames.LogPartsHeader] = 7 });
        var seen = await tap.FinishedAsync(job.JobId, Eventually.DefaultPatience);

        var logs = seen.Where(m => m.IsLog).ToList();
        Assert.Equal(Enumerable.Range(7, logs.Count), logs.Select(l => l.Number));
        Assert.True(logs[^1].Final);
    }

    [Fact]
    public async Task With_the_hub_strategy_a_requeued_attempt_ends_its_log_with_a_final_part_and_a_reset_as_travis_does()
    {
        var queue = Broker.NewQueue("requeued-hub");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue,
            ("PROVIDER_NAME", "fake"), ("FAKE_INCOMPLETE", "true"), ("REQUEUE_STRATEGY", "hub"));
        var job = Broker.Job("script: [\"true\"]", queue);

        await Broker.EnqueueAsync(broker.Uri, queue, job);
        var seen = await tap.WaitAsync(job.JobId, s => s.Any(m => m.State == "reset"), Eventually.DefaultPatience);

        var logs = seen.Where(m => m.IsLog).ToList();
        Assert.Equal(Enumerable.Range(0, logs.Count), logs.Select(l => l.Number));
        Assert.Equal([.. Enumerable.Repeat(false, logs.Count - 1), true], logs.Select(l => l.Final));
    }
}
