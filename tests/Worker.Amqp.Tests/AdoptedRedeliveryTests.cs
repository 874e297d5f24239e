using RabbitMQ.Client;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// A job whose channel is lost while it runs is delivered again, maybe to another processor of the
/// same host. The running job takes that delivery over (it is not run twice), and the processor it
/// landed on keeps taking jobs meanwhile.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AdoptedRedeliveryTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task A_redelivery_taken_over_by_a_running_job_leaves_the_processor_it_landed_on_free_for_the_next_job()
    {
        var queue = Broker.NewQueue("adopt");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("POOL_SIZE", "2"));
        var longJob = Broker.Job("script: [\"sleep 20\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, longJob);
        await tap.WaitAsync(longJob.JobId, seen => seen.Any(m => m.State == "started"), Eventually.DefaultPatience);

        // Lose the running job's channel: RabbitMQ puts the message back, and the one consumer with
        // room, the other processor's, gets it again.
        var run = Assert.Single(worker.Queue.RunsOf(longJob.JobId));
        await Assert.Single(run.Deliveries).Consumer.Channel.CloseAsync();
        await Eventually.TrueAsync(() => run.Deliveries.Count == 2, "the running job took over the redelivery");

        var next = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, next);
        await tap.FinishedAsync(next.JobId, Eventually.DefaultPatience);

        Assert.DoesNotContain(tap.Of(longJob.JobId), m => m.State == "passed"); // the next job did not wait for it
        var seen = await tap.FinishedAsync(longJob.JobId, Eventually.DefaultPatience);
        Assert.Equal(["received", "started", "passed"], seen.Where(m => m.IsState).Select(m => m.State)); // run once
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "the redelivery was acked with the run");
    }
}
