
namespace Worker.Amqp.Tests;

[Trait("Category", "Integration")]
public sealed class WorkerCrashTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private Dictionary<string, string> Env(string queue, string host, string runSleep) => new()
    {
        ["WORKER_QUEUE_TYPE"] = "amqp",
        ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
        ["WORKER_QUEUE_NAME"] = queue,
        ["WORKER_PROVIDER_NAME"] = "fake",
        ["WORKER_FAKE_RUN_SLEEP"] = runSleep,
        ["WORKER_HOSTNAME"] = host,
        ["WORKER_BASE_DIR"] = Path.Combine(Path.GetTempPath(), "amqp-crash-" + host + "-" + queue),
        ["WORKER_LOG_FLUSH_INTERVAL"] = "100ms",
    };

    [Fact]
    public async Task Job_of_a_worker_killed_with_SIGKILL_mid_job_is_run_to_the_end_by_the_other_worker()
    {
        var queue = "builds.crash-" + Guid.NewGuid().ToString("N")[..8];
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var doomed = WorkerProcess.Start(Env(queue, "worker-doomed", "10m"), Path.GetTempPath(), "run");
        var payload = Broker.Job("script: [\"true\"]", queue);
        // The first worker declares the queue; publishing before that would drop the job.
        await Eventually.TrueAsync(() => QueueExistsAsync(queue), "the worker declared " + queue, explain: () => doomed.Stderr);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);
        await tap.WaitAsync(payload.JobId, seen => seen.Any(m => m.State == "started"), TimeSpan.FromSeconds(30));
        await using var survivor = WorkerProcess.Start(Env(queue, "worker-survivor", "0s"), Path.GetTempPath(), "run");
        await Task.Delay(TimeSpan.FromSeconds(2)); // let the survivor subscribe, so it is there when the job comes back

        doomed.Kill();
        var seen = await tap.WaitAsync(payload.JobId, s => s.Any(m => m.State == "passed"), TimeSpan.FromSeconds(60));

        var states = seen.Where(m => m.IsState).Select(m => m.State).ToList();
        Assert.Equal(["received", "started", "received", "started", "passed"], states);
        var secondRun = seen.SkipWhile(m => m.IsLog || m.State != "received").Skip(1).SkipWhile(m => m.State != "received").ToList();
        Assert.Contains("hostname: worker-survivor", string.Concat(secondRun.Where(m => m.IsLog).Select(m => m.Log)));
        await Eventually.TrueAsync(async () => await Broker.CountAsync(broker.Uri, queue) == 0, queue + " is empty");
        Assert.Contains("delivered again", survivor.Stderr);
        foreach (var worker in new[] { "worker-doomed", "worker-survivor" })
        {
            var baseDir = Env(queue, worker, "0s")["WORKER_BASE_DIR"];
            if (Directory.Exists(baseDir))
            {
                Directory.Delete(baseDir, recursive: true);
            }
        }
    }

    private async Task<bool> QueueExistsAsync(string queue)
    {
        await using var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = broker.Uri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            await channel.QueueDeclarePassiveAsync(queue);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return false;
        }
    }
}
