namespace Worker.Amqp.Tests;

/// <summary>
/// A worker drained right after its job finished leaves nothing behind on the broker: the job's
/// delivery is settled before the worker exits, so no worker started afterwards runs it again.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DrainTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private Dictionary<string, string> Env(string queue, string host) => new()
    {
        ["WORKER_QUEUE_TYPE"] = "amqp",
        ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
        ["WORKER_QUEUE_NAME"] = queue,
        ["WORKER_PROVIDER_NAME"] = "fake",
        ["WORKER_HOSTNAME"] = host,
        ["WORKER_BASE_DIR"] = Path.Combine(Path.GetTempPath(), $"amqp-drain-{host}-{queue}"),
        ["WORKER_LOG_FLUSH_INTERVAL"] = "100ms",
    };

    [Theory]
    [InlineData("0s", "10m")]
    // The drain runs out while the finished job's machine is still being removed.
    [InlineData("3s", "1s")]
    public async Task A_worker_drained_right_after_its_job_finished_exits_0_and_no_later_worker_runs_that_job_again(
        string machineStop, string shutdownTimeout)
    {
        var queue = $"builds.drain-{Guid.NewGuid().ToString("N")[..8]}";
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        var env = Env(queue, "worker-drained");
        env["WORKER_FAKE_STOP_DURATION"] = machineStop;
        env["WORKER_SHUTDOWN_TIMEOUT"] = shutdownTimeout;
        await using var first = WorkerProcess.Start(env, Path.GetTempPath(), "run");
        await first.UntilAsync(() => first.Stderr.Contains("Connected to RabbitMQ", StringComparison.Ordinal), "the first worker consumes " + queue);
        var job = Broker.Job("script: [\"echo once\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, job);

        // The broker has routed the finish state, so it confirmed it: drain at once.
        await tap.WaitAsync(job.JobId, seen => seen.Any(m => m.State == "passed"), Patience);
        first.Signal("TERM");
        Assert.Equal(0, await first.WaitAsync(Patience));

        // Had the job gone back to the queue, it would be ahead of this marker job.
        await using var second = WorkerProcess.Start(Env(queue, "worker-after"), Path.GetTempPath(), "run");
        var marker = Broker.Job("script: [\"echo marker\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, marker);
        await tap.WaitAsync(marker.JobId, seen => seen.Any(m => m.State == "passed"), Patience);

        Assert.Equal(["received", "started", "passed"], tap.Of(job.JobId).Where(m => m.IsState).Select(m => m.State));
        Assert.DoesNotContain($"job={job.JobId}", second.Stderr);
        Assert.Equal(0u, await Broker.CountAsync(broker.Uri, queue));
        second.Signal("TERM");
        Assert.Equal(0, await second.WaitAsync(Patience));
        Assert.DoesNotContain("unconfirmed", first.Stderr + second.Stderr);
        foreach (var host in new[] { "worker-drained", "worker-after" })
        {
            var baseDir = Env(queue, host)["WORKER_BASE_DIR"];
            if (Directory.Exists(baseDir))
            {
                Directory.Delete(baseDir, recursive: true);
            }
        }
    }
}
