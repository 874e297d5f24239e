using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// RabbitMQ closes a channel whose delivery stays unacked past its <c>consumer_timeout</c>. Its own
/// broker, told to time out after 5 s and to check every second, so a job of 15 s crosses it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ConsumerTimeoutTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        // Channels read these when they open: set before any worker connects.
        await broker.CtlAsync("eval", "application:set_env(rabbit, consumer_timeout, 5000).");
        await broker.CtlAsync("eval", "application:set_env(rabbit, channel_tick_interval, 1000).");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_channel_closed_for_a_delivery_past_the_consumer_timeout_is_reopened_and_its_processor_serves_again()
    {
        var queue = Broker.NewQueue("timeout");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("POOL_SIZE", "1"), ("AMQP_CONSUMER_TIMEOUT", "5s"));
        var jobs = new[] { "sleep 15", "true", "true" }.Select(script => Broker.Job($"script: [\"{script}\"]", queue)).ToList();
        foreach (var job in jobs)
        {
            await Broker.EnqueueAsync(broker.Uri, queue, job);
        }

        foreach (var job in jobs)
        {
            var seen = await tap.FinishedAsync(job.JobId, TimeSpan.FromSeconds(90));
            Assert.Equal(["received", "started", "passed"], seen.Where(m => m.IsState).Select(m => m.State));
        }
        // The long job's delivery went back to the queue when its channel closed; this worker acks
        // that redelivery without a second run (no second received or started), sending its finish
        // again as it acks it (as for any redelivery of a job this host finished), and nothing is left.
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "nothing is left on the queue or held");
        var states = tap.Of(jobs[0].JobId).Where(m => m.IsState).Select(m => m.State).ToList();
        Assert.Equal(["received", "started", "passed"], states.Take(3));
        Assert.All(states.Skip(3), state => Assert.Equal("passed", state));
    }

    [Fact]
    public async Task A_worker_whose_jobs_may_outlast_the_broker_consumer_timeout_says_so_at_start_or_asks_for_longer()
    {
        var queue = Broker.NewQueue("timeout-warn");
        var env = new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
            ["WORKER_QUEUE_NAME"] = queue,
            ["WORKER_PROVIDER_NAME"] = "fake",
            ["WORKER_AMQP_CONSUMER_TIMEOUT"] = "5s",
            ["WORKER_BASE_DIR"] = Path.Combine(Path.GetTempPath(), "amqp-timeout-" + queue),
        };
        await using var worker = WorkerProcess.Start(env, Path.GetTempPath(), "run");
        var version = Version.Parse((await broker.CtlAsync("eval", "rabbit_misc:version().")).Trim().Trim('"').Split('-')[0]);

        if (version < new Version(3, 12))
        {
            // 50m hard limit + 4m startup + 3m30s upload + 2m teardown + 1m.
            await Eventually.TrueAsync(() => worker.Stderr.Contains("consumer_timeout = 3630000", StringComparison.Ordinal),
                "the worker warned that its jobs may outlast the broker's consumer timeout", gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
            Assert.Contains("WORKER_AMQP_CONSUMER_TIMEOUT=5s", worker.Stderr);
        }
        else
        {
            await Eventually.TrueAsync(async () => (await broker.CtlAsync("list_consumers", "-q", "queue_name", "arguments"))
                .Split('\n').Any(l => l.StartsWith(queue + "\t", StringComparison.Ordinal) && l.Contains("x-consumer-timeout", StringComparison.Ordinal) && l.Contains("3630000", StringComparison.Ordinal)),
                "each consumer asked for the longest a job may hold its delivery", gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        }
    }
}
