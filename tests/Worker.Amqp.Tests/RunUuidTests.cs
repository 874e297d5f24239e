namespace Worker.Amqp.Tests;

/// <summary>
/// travis-hub tells one run of a job from another by the uuid in its state updates' <c>meta</c>, and
/// travis-logs gets it on each log part. travis-scheduler's payloads have none, so travis-worker
/// makes one each time it processes a job; a payload's own is kept.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RunUuidTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task A_job_without_a_uuid_gets_a_new_one_for_each_attempt_in_its_states_and_log_parts()
    {
        var (_, attempts) = await RunTwiceAsync(withUuid: false);

        var uuids = attempts.Select(attempt => Assert.Single(attempt.Select(UuidOf).Distinct())).ToList();
        Assert.All(uuids, uuid => Assert.True(Guid.TryParse(uuid, out _), $"'{uuid}' is not a uuid"));
        Assert.NotEqual(uuids[0], uuids[1]);
    }

    [Fact]
    public async Task A_job_with_its_own_uuid_keeps_it_in_every_attempt()
    {
        var (job, attempts) = await RunTwiceAsync(withUuid: true);

        Assert.All(attempts.SelectMany(a => a), m => Assert.Equal(job.Uuid, UuidOf(m)));
    }

    /// <summary>Runs a job whose first machine fails to start (so it is requeued) and returns what each attempt reported.</summary>
    private async Task<(Worker.Core.Jobs.JobPayload Job, List<List<Reported>> Attempts)> RunTwiceAsync(bool withUuid)
    {
        var queue = Broker.NewQueue("uuid");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("PROVIDER_NAME", "fake"), ("FAKE_START_FAILURES", "1"));
        var job = Broker.Job("script: [\"true\"]", queue);
        if (!withUuid)
        {
            job.Root.Remove("uuid");
        }

        await Broker.EnqueueAsync(broker.Uri, queue, job);
        var seen = (await tap.FinishedAsync(job.JobId, Eventually.DefaultPatience)).ToList();

        Assert.Equal(["received", "received", "started", "passed"], seen.Where(m => m.IsState).Select(m => m.State));
        var second = seen.FindLastIndex(m => m.State == "received");
        var attempts = new List<List<Reported>> { seen[..second], seen[second..] };
        Assert.All(attempts, a => Assert.Contains(a, m => m.IsLog));
        return (job, attempts);
    }

    /// <summary>A state's <c>meta.uuid</c> or a log part's <c>uuid</c>; null where there is none.</summary>
    private static string? UuidOf(Reported m) =>
        m.IsLog
            ? m.Body.GetProperty("uuid").GetString()
            : m.Body.GetProperty("meta").TryGetProperty("uuid", out var uuid) ? uuid.GetString() : null;
}
