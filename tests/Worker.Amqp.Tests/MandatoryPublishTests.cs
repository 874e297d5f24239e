using System.Text;
using Worker.Core.Jobs;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// RabbitMQ confirms a message it could not route. A requeue copy or a dead letter whose queue is
/// gone must not be confirmed into nothing: it is published as mandatory, and a returned one goes
/// out again once its queue is declared again.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MandatoryPublishTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task A_requeue_copy_whose_job_queue_was_deleted_is_not_dropped()
    {
        var queue = Broker.NewQueue("gone");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("POOL_SIZE", "1"));
        var job = Broker.Job("script: [\"sleep 60\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, job);
        await tap.WaitAsync(job.JobId, seen => seen.Any(m => m.State == "started"), Eventually.DefaultPatience);

        await broker.CtlAsync("delete_queue", queue);
        worker.Pool.StopNow(); // the job is requeued as the worker leaves: its copy has no queue to go to
        await worker.DisposeAsync();

        Assert.Equal(1u, await Broker.CountAsync(broker.Uri, queue));
        var copy = Assert.Single(await Broker.DrainAsync(broker.Uri, queue));
        Assert.Equal(job.JobId, JobPayload.Parse(copy.Body.Span).JobId);
    }

    [Fact]
    public async Task A_dead_letter_whose_queue_was_deleted_is_not_dropped()
    {
        var queue = Broker.NewQueue("dead-gone");
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("PROVIDER_NAME", "fake"));
        await broker.CtlAsync("delete_queue", AmqpNames.DeadLetterQueue(queue));

        await Broker.PublishAsync(broker.Uri, "", queue, "not a payload"u8.ToArray());

        await Eventually.TrueAsync(async () => await Broker.CountAsync(broker.Uri, AmqpNames.DeadLetterQueue(queue)) == 1,
            "the dead letter reached its queue, declared again");
        var dead = Assert.Single(await Broker.DrainAsync(broker.Uri, AmqpNames.DeadLetterQueue(queue)));
        Assert.Equal("not a payload", Encoding.UTF8.GetString(dead.Body.Span));
        Assert.Contains("not JSON", Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers![AmqpNames.ErrorHeader]!));
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "the message was acked once its dead letter was routed");
    }
}
