using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;
using Worker.Core.Queues;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// RabbitMQ as one of several job sources (QUEUE_TYPE=amqp,file): its subscription closes while a job
/// from elsewhere runs, and a job it delivered meanwhile goes back to the queue, never lost or run twice.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MultiSourceAmqpTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Fact]
    public async Task Jobs_waiting_in_both_sources_each_run_once_and_the_broker_holds_nothing_for_a_busy_processor()
    {
        const int Rounds = 10;
        var name = Broker.NewQueue("multi");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        var memory = new InMemoryJobQueue();
        await using var amqp = new AmqpJobQueue(new AmqpOptions { Uri = broker.Uri }, name, new JobCancellations(), NullLoggerFactory.Instance);
        await amqp.StartAsync(CancellationToken.None);
        await using var queue = new MultiSourceJobQueue([memory, amqp], NullLogger.Instance);
        var fromAmqp = new List<long>();
        var fromMemory = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        await using (var jobs = queue.ReceiveAsync(stop.Token).GetAsyncEnumerator(stop.Token))
        {
            for (var round = 0; round < Rounds; round++)
            {
                var payload = Broker.Job("script: [\"true\"]", name);
                await Broker.EnqueueAsync(broker.Uri, name, payload);
                memory.Enqueue(JobFile.Parse("script: [\"true\"]", "memory"));
                for (var taken = 0; taken < 2; taken++)
                {
                    Assert.True(await jobs.MoveNextAsync());
                    var job = jobs.Current;
                    if (job is InMemoryJob)
                    {
                        fromMemory++;
                        // While it runs, the broker's job waits in the queue for any worker: none held here.
                        await Eventually.TrueAsync(async () => await broker.CountsAsync(name) is { Ready: 1, Unacked: 0, Consumers: 0 },
                            "the broker's job is ready and nobody here consumes");
                    }
                    else
                    {
                        fromAmqp.Add(job.Spec.JobId);
                    }
                    await job.ReceivedAsync(stop.Token);
                    await job.FinishAsync(FinishState.Passed, null, stop.Token);
                    await job.EndedAsync(stop.Token);
                }
            }
        }

        Assert.Equal(Rounds, fromMemory);
        Assert.Equal(Rounds, fromAmqp.Distinct().Count());
        Assert.Equal(Rounds, fromAmqp.Count);
        await Eventually.TrueAsync(async () => (await broker.CountsAsync(name))!.Empty, "every broker job was acked");
        foreach (var id in fromAmqp)
        {
            var states = (await tap.FinishedAsync(id, Eventually.DefaultPatience)).Where(m => m.IsState).Select(m => m.State);
            Assert.Equal(["received", "passed"], states);
        }
    }

    [Fact]
    public async Task A_job_given_back_goes_to_the_head_of_the_queue_untouched_and_nothing_is_reported()
    {
        var name = Broker.NewQueue("give-back");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        await using var amqp = new AmqpJobQueue(new AmqpOptions { Uri = broker.Uri }, name, new JobCancellations(), NullLoggerFactory.Instance);
        await amqp.StartAsync(CancellationToken.None);
        var first = Broker.Job("script: [\"true\"]", name);
        var second = Broker.Job("script: [\"true\"]", name);
        await Broker.EnqueueAsync(broker.Uri, name, first);
        await Broker.EnqueueAsync(broker.Uri, name, second);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        await foreach (var job in amqp.ReceiveAsync(stop.Token))
        {
            Assert.Equal(first.JobId, job.Spec.JobId);
            await job.GiveBackAsync(stop.Token);
            break;
        }
        await Eventually.TrueAsync(async () => await broker.CountsAsync(name) is { Ready: 2, Unacked: 0 }, "both jobs wait in the queue");

        var again = Assert.Single(await Broker.DrainAsync(broker.Uri, name), m => m.Redelivered);
        Assert.Equal(first.ToUtf8Bytes(), again.Body.ToArray());
        await tap.RefreshAsync();
        Assert.Empty(tap.Of(first.JobId));
    }
}
