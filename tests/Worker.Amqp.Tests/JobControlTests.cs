using System.Text;
using Worker.Commands;

namespace Worker.Amqp.Tests;

[Trait("Category", "Integration")]
public sealed class JobControlTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Cancel_command_on_worker_commands_stops_the_running_job_and_reports_cancelled()
    {
        var queue = Broker.NewQueue("cancel");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue);
        // An hour of sleep: only the cancel can end the job within the patience.
        var payload = Broker.Job("script: [\"echo waiting\", \"sleep 3600\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);
        await tap.WaitAsync(payload.JobId, seen => seen.Any(m => m.State == "started"), Patience);

        var command = $$"""{"type":"cancel_job","job_id":{{payload.JobId}},"source":"tests","reason":"Cancelled by the test"}""";
        await Broker.PublishAsync(broker.Uri, AmqpNames.CommandsExchange, "", Encoding.UTF8.GetBytes(command), type: null);
        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        Assert.Equal("cancelled", seen.Last(m => m.IsState).State);
        Assert.Contains("Cancelled by the test", string.Concat(seen.Where(m => m.IsLog).Select(m => m.Log)));
        await Eventually.TrueAsync(async () => await Broker.CountAsync(broker.Uri, queue) == 0, queue + " is empty");
    }

    [Fact]
    public async Task Job_whose_machine_never_starts_is_republished_with_its_count_until_the_cap_and_then_errored()
    {
        var queue = Broker.NewQueue("requeue");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue,
            ("PROVIDER_NAME", "fake"), ("FAKE_ERROR", "true"), ("MAX_REQUEUES", "2"));
        var payload = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        var states = seen.Where(m => m.IsState).ToList();
        Assert.Equal(["received", "received", "received", "errored"], states.Select(s => s.State));
        // Each run picks up the count where the previous one left it, so travis-hub drops none as stale.
        Assert.Equal([0, 1, 2, 3], states.Select(s => s.StateUpdateCount));
        Assert.Contains("requeue", string.Concat(seen.Where(m => m.IsLog).Select(m => m.Log)), StringComparison.OrdinalIgnoreCase);
        await Eventually.TrueAsync(async () => await Broker.CountAsync(broker.Uri, queue) == 0, queue + " is empty");
    }

    [Fact]
    public async Task Job_requeued_with_the_hub_strategy_sends_travis_reset_and_is_acked_not_republished()
    {
        var queue = Broker.NewQueue("hub");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue,
            ("PROVIDER_NAME", "fake"), ("FAKE_ERROR", "true"), ("REQUEUE_STRATEGY", "hub"));
        var payload = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = await tap.WaitAsync(payload.JobId, s => s.Any(m => m.State == "reset"), Patience);

        var reset = seen.Single(m => m.State == "reset");
        Assert.Equal("job:test:reset", reset.Type);
        Assert.Equal("reporting.jobs.builds", reset.RoutingKey);
        // A republish would come before the ack, so once the delivery is acked the queue shows whether there was one.
        await Eventually.TrueAsync(async () => await QueueColumnAsync(queue, "messages_unacknowledged") == 0, "the job's delivery is acked");
        Assert.Equal(0u, await Broker.CountAsync(broker.Uri, queue));
        Assert.Single(tap.Of(payload.JobId), m => m.State == "received");
    }

    [Fact]
    public async Task Job_running_when_the_worker_stops_at_once_goes_back_on_the_queue_uncounted()
    {
        var queue = Broker.NewQueue("stop");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("PROVIDER_NAME", "fake"), ("FAKE_RUN_SLEEP", "10m"));
        var payload = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);
        await tap.WaitAsync(payload.JobId, seen => seen.Any(m => m.State == "started"), Patience);

        worker.Pool.StopNow();
        await worker.DisposeAsync();

        var back = Assert.Single(await Broker.DrainAsync(broker.Uri, queue));
        Assert.Equal(0, (int)back.BasicProperties.Headers![AmqpNames.RequeueCountHeader]!);
        var republished = Worker.Core.Jobs.JobPayload.Parse(back.Body.Span);
        Assert.Equal(payload.JobId, republished.JobId);
        Assert.Equal(2, republished.StateUpdateCount); // received and started were sent; the next run continues from there
    }

    [Fact]
    public async Task Worker_whose_job_queue_is_deleted_declares_it_again_and_keeps_serving()
    {
        var queue = Broker.NewQueue("deleted");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("PROVIDER_NAME", "fake"));
        await Eventually.TrueAsync(async () => await ConsumersAsync(queue) == 1, "one consumer of " + queue);

        await broker.CtlAsync("delete_queue", queue);
        await Eventually.TrueAsync(async () => await ConsumersAsync(queue) == 1, "one consumer of " + queue);
        var payload = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);
        Assert.Equal("passed", seen.Last(m => m.IsState).State);
    }

    private Task<int> ConsumersAsync(string queue) => QueueColumnAsync(queue, "consumers");

    /// <summary>A number rabbitmqctl list_queues shows for <paramref name="queue"/>; -1 when the queue is not there.</summary>
    private async Task<int> QueueColumnAsync(string queue, string column)
    {
        var listed = await broker.CtlAsync("list_queues", "name", column);
        var line = listed.Split('\n').FirstOrDefault(l => l.StartsWith(queue + "\t", StringComparison.Ordinal));
        return line is null ? -1 : int.Parse(line.Split('\t')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Two_workers_on_one_queue_share_the_jobs_and_run_each_once()
    {
        var queue = Broker.NewQueue("shared");
        var release = Path.Combine(Path.GetTempPath(), "release-" + queue);
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var a = await InProcessWorker.StartAsync(broker.Uri, queue, ("HOSTNAME", "worker-a"));
        await using var b = await InProcessWorker.StartAsync(broker.Uri, queue, ("HOSTNAME", "worker-b"));
        // Each job waits for the release: a worker (one processor, prefetch 1) holds one until then,
        // so the first two run one on each worker, however loaded the machine is.
        var jobs = Enumerable.Range(0, 8).Select(_ => Broker.Job($"script: [\"while [ ! -e {release} ]; do sleep 0.1; done\"]", queue)).ToList();
        foreach (var job in jobs)
        {
            await Broker.EnqueueAsync(broker.Uri, queue, job);
        }
        // The tap reads while it waits for one job; the condition looks at them all.
        await tap.WaitAsync(jobs[0].JobId, _ => jobs.Count(j => tap.Of(j.JobId).Any(m => m.State == "started")) == 2, Patience);
        await File.WriteAllTextAsync(release, "");

        var ranOn = new List<string>();
        foreach (var job in jobs)
        {
            var seen = await tap.FinishedAsync(job.JobId, Patience);
            Assert.Equal("passed", seen.Last(m => m.IsState).State);
            Assert.Single(seen, m => m.State == "received");
            var log = string.Concat(seen.Where(m => m.IsLog).Select(m => m.Log));
            ranOn.Add(log.Contains("hostname: worker-a", StringComparison.Ordinal) ? "a" : log.Contains("hostname: worker-b", StringComparison.Ordinal) ? "b" : "?");
        }
        File.Delete(release);
        Assert.DoesNotContain("?", ranOn);
        Assert.Contains("a", ranOn);
        Assert.Contains("b", ranOn);
    }

    [Fact]
    public async Task Submit_with_follow_prints_the_log_live_and_exits_with_the_jobs_result()
    {
        var queue = Broker.NewQueue("submit");
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue);
        var dir = Directory.CreateTempSubdirectory("amqp-submit-");
        var file = new FileInfo(Path.Combine(dir.FullName, "failing.yml"));
        await File.WriteAllTextAsync(file.FullName, "script:\n  - echo submitted over amqp\n  - exit 1\n");
        var settings = new Worker.Core.Configuration.SettingsSource(new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
            ["WORKER_QUEUE_NAME"] = queue,
        });
        using var output = new StringWriter();
        using var timeout = new CancellationTokenSource(Patience);

        var exit = await SubmitCommand.RunAsync(settings, file, follow: true, output, timeout.Token);

        Assert.Equal(1, exit);
        var printed = output.ToString();
        Assert.Contains("submitted over amqp", printed);
        Assert.Contains("Worker information", printed);
        dir.Delete(recursive: true);
    }

    [Fact]
    public async Task Submit_with_follow_of_a_passing_job_exits_0_and_closes_its_connection_without_a_warning()
    {
        var queue = Broker.NewQueue("quiet");
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue);
        var dir = Directory.CreateTempSubdirectory("amqp-submit-");
        var file = Path.Combine(dir.FullName, "passing.yml");
        await File.WriteAllTextAsync(file, "script: [\"echo quietly\"]\n");
        var env = new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
            ["WORKER_QUEUE_NAME"] = queue,
        };

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, dir.FullName, "submit", file, "--follow");

        Assert.True(exit == 0, stderr);
        Assert.Contains("quietly", stdout);
        Assert.Matches(@"Job \d+ passed", stderr);
        // Only what submit itself says: no log line (a warning about the closed connection) besides.
        Assert.All(stderr.Trim().Split('\n'), line => Assert.Matches(@"^(Submitted job \d+ to|Job \d+ [a-z]+$)", line));
        dir.Delete(recursive: true);
    }
}
