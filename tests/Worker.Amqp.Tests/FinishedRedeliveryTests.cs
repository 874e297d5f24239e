using RabbitMQ.Client;
using Worker.TestSupport;

namespace Worker.Amqp.Tests;

/// <summary>
/// A job whose result is out but whose ack never reached the broker (lost in a broker restart, or
/// the worker died just before it) comes back flagged as redelivered. On the host that finished it,
/// even a worker started again there, it is acked without a second run and its finish state is sent
/// again.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FinishedRedeliveryTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)] // travis-scheduler's: the run's own uuid is recorded, and its finish sent again with it
    public async Task A_finished_job_redelivered_to_the_next_worker_on_its_host_is_acked_without_running_and_its_finish_is_sent_again(bool payloadHasUuid)
    {
        var queue = Broker.NewQueue("finished-again");
        var host = Directory.CreateTempSubdirectory("finished-again-");
        try
        {
            var runs = Path.Combine(host.FullName, "runs");
            await using var tap = await ReportingTap.CreateAsync(broker.Uri);
            var job = Broker.Job($"script: [\"echo ran >> {runs}\"]", queue);
            if (!payloadHasUuid)
            {
                job.Root.Remove("uuid");
            }
            var resultOut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var first = await InProcessWorker.StartAsync(broker.Uri, queue, ("BASE_DIR", host.FullName));
            // The first worker's result is confirmed; it goes no further, as if it died before its ack.
            first.Queue.BeforeAck = async settling =>
            {
                resultOut.TrySetResult();
                await release.Task;
            };
            try
            {
                await Broker.EnqueueAsync(broker.Uri, queue, job);
                await resultOut.Task.WaitAsync(Eventually.DefaultPatience);
                await using var second = await InProcessWorker.StartAsync(broker.Uri, queue, ("BASE_DIR", host.FullName));

                // The first worker's channel goes the way of its process: the unacked job returns, redelivered, to the second.
                var run = Assert.Single(first.Queue.RunsOf(job.JobId));
                await Assert.Single(run.Deliveries).Consumer.Channel.CloseAsync();
                var seen = await tap.WaitAsync(job.JobId, s => s.Count(m => m.State == "passed") == 2, Eventually.DefaultPatience);

                Assert.Equal(["received", "started", "passed", "passed"], seen.Where(m => m.IsState).Select(m => m.State));
                var finishes = seen.Where(m => m.State == "passed").ToList();
                Assert.Equal(finishes[0].Body.ToString(), finishes[1].Body.ToString()); // sent again as it was
                Assert.All(finishes, f => Assert.NotEmpty(f.Body.GetProperty("meta").GetProperty("uuid").GetString()!));
                await Eventually.TrueAsync(async () => (await broker.CountsAsync(queue))!.Empty, "the redelivery was acked");
                Assert.Equal(["ran"], await File.ReadAllLinesAsync(runs)); // the script ran once
            }
            finally
            {
                release.TrySetResult();
            }
        }
        finally
        {
            host.Delete(recursive: true);
        }
    }
}
