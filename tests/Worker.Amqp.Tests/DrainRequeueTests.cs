using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// A second SIGTERM requeues every running job at once: many copies go back to the queue while their
/// originals settle and their machines stop, where a copy can reach the same worker's free consumers.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DrainRequeueTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private const int Pool = 8;

    [Fact]
    public async Task A_worker_told_twice_to_stop_with_8_jobs_running_leaves_exactly_those_8_on_the_queue_every_time()
    {
        for (var round = 1; round <= 6; round++)
        {
            var queue = Broker.NewQueue($"drain{round}");
            await using var tap = await ReportingTap.CreateAsync(broker.Uri);
            await using var worker = WorkerProcess.Start(new Dictionary<string, string>
            {
                ["WORKER_QUEUE_TYPE"] = "amqp",
                ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
                ["WORKER_QUEUE_NAME"] = queue,
                ["WORKER_PROVIDER_NAME"] = "fake",
                ["WORKER_POOL_SIZE"] = Pool.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["WORKER_FAKE_RUN_SLEEP"] = "10m",
                ["WORKER_FAKE_STOP_DURATION"] = "10s",
                ["WORKER_BASE_DIR"] = Path.Combine(Path.GetTempPath(), "amqp-drain-" + queue),
            }, Path.GetTempPath(), "run");
            await Eventually.TrueAsync(async () => await broker.CountsAsync(queue) is { Consumers: Pool },
                "the worker consumes with all its processors", gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
            var jobs = Enumerable.Range(0, Pool).Select(_ => Broker.Job("script: [\"true\"]", queue)).ToList();
            foreach (var job in jobs)
            {
                await Broker.EnqueueAsync(broker.Uri, queue, job);
            }
            await Eventually.TrueAsync(async () =>
            {
                await tap.RefreshAsync();
                return jobs.All(j => tap.Of(j.JobId).Any(m => m.State == "started"));
            }, "all 8 jobs started", explain: () => worker.Stderr);

            worker.Signal("TERM");
            await Eventually.TrueAsync(() => worker.Stderr.Contains("draining", StringComparison.Ordinal), "the worker began to drain", explain: () => worker.Stderr);
            worker.Signal("TERM");
            var exit = await worker.WaitAsync(TimeSpan.FromMinutes(2));

            Assert.True(exit == 0, $"round {round}: exit code {exit}\n{worker.Stderr}");
            var left = await broker.CountsAsync(queue);
            Assert.True(left == new QueueCounts(Pool, 0, 0), $"round {round}: {left} on the queue, expected {Pool} ready\n{worker.Stderr}");
            var requeued = await Broker.DrainAsync(broker.Uri, queue);
            Assert.Equal(jobs.Select(j => j.JobId).Order(), requeued.Select(m => Core.Jobs.JobPayload.Parse(m.Body.Span).JobId).Order());
        }
    }
}
