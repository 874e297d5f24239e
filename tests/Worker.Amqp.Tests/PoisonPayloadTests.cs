using System.Globalization;
using System.Text;
using Worker.Core.Jobs;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>A payload that can't be used is set aside with its reason; it never holds a processor.</summary>
[Trait("Category", "Integration")]
public sealed class PoisonPayloadTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private const string FuzzIndexHeader = "x-test-fuzz-index";

    [Fact]
    public async Task A_payload_whose_values_cant_be_used_is_dead_lettered_and_the_jobs_behind_it_pass_on_a_pool_1_worker()
    {
        var queue = Broker.NewQueue("poison");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("PROVIDER_NAME", "fake"), ("POOL_SIZE", "1"));
        var poison = Broker.Job("script: [\"true\"]", queue);
        poison.Root["timeouts"] = new System.Text.Json.Nodes.JsonObject { ["hard_limit"] = 1000000000000 };
        await Broker.EnqueueAsync(broker.Uri, queue, poison);
        // Duplicate keys: the JSON reader takes them; only reading the object finds them.
        await Broker.PublishAsync(broker.Uri, "", queue, Encoding.UTF8.GetBytes("""{"job":{"id":5},"job":{"id":6},"config":{"script":"true"}}"""));
        var jobs = Enumerable.Range(0, 3).Select(_ => Broker.Job("script: [\"true\"]", queue)).ToList();
        foreach (var job in jobs)
        {
            await Broker.EnqueueAsync(broker.Uri, queue, job);
        }

        foreach (var job in jobs)
        {
            Assert.Equal("passed", (await tap.FinishedAsync(job.JobId, Eventually.DefaultPatience)).Last(m => m.IsState).State);
        }

        var dead = await Broker.DrainAsync(broker.Uri, AmqpNames.DeadLetterQueue(queue));
        Assert.Equal(2, dead.Count);
        Assert.Contains("timeouts.hard_limit must be a number of seconds", Reason(dead[0]));
        Assert.Equal(poison.JobId, JobIdIn(dead[0].Body.ToArray()));
        Assert.Contains("duplicate", Reason(dead[1]), StringComparison.OrdinalIgnoreCase);
        Assert.Empty(tap.Of(poison.JobId)); // set aside before anything was reported
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "the job queue holds nothing");
    }

    [Fact]
    public async Task A_job_the_pipeline_dead_letters_goes_to_the_dead_letters_as_it_came_and_is_reported_errored()
    {
        var queue = Broker.NewQueue("pipeline-dead");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var jobs = new AmqpJobQueue(new AmqpOptions { Uri = broker.Uri }, queue, new JobCancellations(),
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await jobs.StartAsync(CancellationToken.None);
        var payload = Broker.Job("script: [\"true\"]", queue);
        var body = payload.ToUtf8Bytes();
        await Broker.PublishAsync(broker.Uri, "", queue, body, headers: new Dictionary<string, object?> { ["x-from-scheduler"] = "kept" });
        using var stop = new CancellationTokenSource(Eventually.DefaultPatience);

        await foreach (var job in jobs.ReceiveAsync(stop.Token))
        {
            await job.ReceivedAsync(stop.Token);
            await job.DeadLetterAsync("config.script names a file that is not there", stop.Token);
            break;
        }

        var states = (await tap.FinishedAsync(payload.JobId, Eventually.DefaultPatience)).Where(m => m.IsState).Select(m => m.State);
        Assert.Equal(["received", "errored"], states);
        var dead = Assert.Single(await Broker.DrainAsync(broker.Uri, AmqpNames.DeadLetterQueue(queue)));
        Assert.Equal(body, dead.Body.ToArray());
        Assert.Equal("config.script names a file that is not there", Reason(dead));
        Assert.Equal("kept", Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers!["x-from-scheduler"]!));
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "the job was acked");
    }

    [Fact]
    public async Task Every_malformed_payload_ends_dead_lettered_or_finished_and_none_is_held()
    {
        const int Count = 300;
        var queue = Broker.NewQueue("fuzz");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("PROVIDER_NAME", "fake"), ("POOL_SIZE", "4"));
        var refused = new HashSet<int>();
        var expectedFinishes = new Dictionary<long, int>();
        foreach (var payload in MalformedPayloads.Generate(seed: 2026, count: Count))
        {
            if (Readable(payload.Bytes) is { } jobId)
            {
                expectedFinishes[jobId] = expectedFinishes.GetValueOrDefault(jobId) + 1;
            }
            else
            {
                refused.Add(payload.Index);
            }
            await Broker.PublishAsync(broker.Uri, "", queue, payload.Bytes, headers: new Dictionary<string, object?> { [FuzzIndexHeader] = payload.Index });
        }
        Assert.InRange(refused.Count, 30, Count - 30); // both kinds are there in numbers

        var dead = new List<RabbitMQ.Client.BasicGetResult>();
        await Eventually.TrueAsync(async () =>
        {
            dead.AddRange(await Broker.DrainAsync(broker.Uri, AmqpNames.DeadLetterQueue(queue)));
            await tap.RefreshAsync();
            var finished = FinishesByJob(tap, expectedFinishes.Keys);
            return dead.Count >= refused.Count && expectedFinishes.All(e => finished[e.Key] >= e.Value);
        }, "every payload was dead-lettered or finished", TimeSpan.FromMinutes(3),
            explain: () => $"dead-lettered {dead.Count} of {refused.Count}; finished {FinishesByJob(tap, expectedFinishes.Keys).Values.Sum()} of {expectedFinishes.Values.Sum()}");

        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "the job queue holds nothing, acked or not");
        await tap.RefreshAsync();
        Assert.Equal(refused.Order(), dead.Select(d => Convert.ToInt32(d.BasicProperties.Headers![FuzzIndexHeader], CultureInfo.InvariantCulture)).Order());
        Assert.All(dead, d => Assert.False(string.IsNullOrWhiteSpace(Reason(d))));
        Assert.Equal(expectedFinishes, FinishesByJob(tap, expectedFinishes.Keys));
    }

    private static long? Readable(byte[] body)
    {
        try
        {
            return JobPayload.Parse(body).JobId;
        }
        catch (Exception)
        {
            return null; // whatever the parser throws, the worker must set the payload aside
        }
    }

    private static Dictionary<long, int> FinishesByJob(ReportingTap tap, IEnumerable<long> jobIds) =>
        jobIds.ToDictionary(id => id, id => tap.Of(id).Count(m => m.IsState && m.State is "passed" or "failed" or "errored" or "cancelled"));

    private static string Reason(RabbitMQ.Client.BasicGetResult dead) =>
        Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers![AmqpNames.ErrorHeader]!);

    private static long JobIdIn(byte[] body) =>
        System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("job").GetProperty("id").GetInt64();
}
