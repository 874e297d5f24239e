using System.Collections.Concurrent;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// A requeued job goes back as a new message, which can reach the same host before the run that
/// requeued it has settled. It must run as a job of its own, never be acked along with its original.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RequeueRaceTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task A_requeue_copy_delivered_to_the_same_host_before_its_original_settles_runs_and_is_not_acked_with_it()
    {
        var queue = Broker.NewQueue("race");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        // The first start fails, so the job is republished; the other processor is idle and takes the copy.
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue,
            ("PROVIDER_NAME", "fake"), ("POOL_SIZE", "2"), ("FAKE_START_FAILURES", "1"));
        var job = Broker.Job("script: [\"true\"]", queue);
        var deliveries = new ConcurrentDictionary<long, int>();
        worker.Queue.Delivered = id => deliveries.AddOrUpdate(id, 1, (_, n) => n + 1);
        // Hold the requeue's ack until the copy has reached this host: the race, every time.
        worker.Queue.BeforeAck = async settling =>
        {
            if (settling.Payload.JobId == job.JobId && settling.RequeueCount == 0)
            {
                await Eventually.TrueAsync(() => deliveries.GetValueOrDefault(job.JobId) >= 2, "the requeue copy reached this host");
            }
        };

        await Broker.EnqueueAsync(broker.Uri, queue, job);
        var seen = await tap.FinishedAsync(job.JobId, Eventually.DefaultPatience);

        Assert.Equal(["received", "received", "started", "passed"], seen.Where(m => m.IsState).Select(m => m.State));
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "nothing is left on the queue or held");
        Assert.Single(tap.Of(job.JobId), m => m.State == "passed");
    }

    [Theory]
    [InlineData("republish")]
    [InlineData("hub")]
    public async Task Beside_a_host_whose_every_start_fails_fast_each_of_200_jobs_finishes_exactly_once(string strategy)
    {
        const int Jobs = 200;
        var queue = Broker.NewQueue("black-hole-" + strategy);
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var hub = await FakeHub.StartAsync(broker.Uri, queue);
        (string, string)[] common = [("PROVIDER_NAME", "fake"), ("POOL_SIZE", "4"), ("REQUEUE_STRATEGY", strategy), ("MAX_REQUEUES", "1000")];
        await using var broken = await InProcessWorker.StartAsync(broker.Uri, queue, [.. common, ("FAKE_ERROR", "true"), ("HOSTNAME", "broken-host")]);
        await using var healthy = await InProcessWorker.StartAsync(broker.Uri, queue, [.. common, ("HOSTNAME", "healthy-host")]);
        var jobs = Enumerable.Range(0, Jobs).Select(_ => Broker.Job("script: [\"true\"]", queue)).ToList();
        foreach (var job in jobs)
        {
            await hub.EnqueueAsync(job);
        }

        await Eventually.TrueAsync(async () =>
        {
            await tap.RefreshAsync();
            return jobs.All(j => Finishes(tap, j.JobId) >= 1);
        }, $"all {Jobs} jobs finished", TimeSpan.FromMinutes(3),
            explain: () => $"{jobs.Count(j => Finishes(tap, j.JobId) >= 1)} of {Jobs} finished; the hub saw {hub.Resets} resets");
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "nothing is left on the queue or held");
        await tap.RefreshAsync();

        Assert.All(jobs, j => Assert.Equal(["passed"], tap.Of(j.JobId).Where(m => m.IsState && m.State is not ("received" or "started" or "reset")).Select(m => m.State)));
        Assert.All(jobs, j => Assert.Contains("hostname: healthy-host", string.Concat(tap.Of(j.JobId).Where(m => m.IsLog).Select(m => m.Log))));
        Assert.True(strategy != "hub" || hub.Resets > 0, "the broken host sent no job back through the hub");
    }

    private static int Finishes(ReportingTap tap, long jobId) =>
        tap.Of(jobId).Count(m => m.IsState && m.State is "passed" or "failed" or "errored" or "cancelled");
}
