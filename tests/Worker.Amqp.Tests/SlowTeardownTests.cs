using Worker.Core.Pipeline;

namespace Worker.Amqp.Tests;

/// <summary>
/// A worker reports a job's result before it tears the machine down, so RabbitMQ may push it the
/// next job while that teardown still runs. The job must not wait there while another worker idles.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SlowTeardownTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_job_pushed_to_a_worker_still_tearing_down_goes_to_an_idle_worker_instead()
    {
        var queue = $"builds.teardown-{Guid.NewGuid().ToString("N")[..8]}";
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        // RabbitMQ prefers the slow worker's consumer whenever it has room, as it has right after each ack.
        // Its teardown lasts far longer than a job on the quick worker takes, even on a loaded machine.
        await using var slow = await InProcessWorker.StartAsync(broker.Uri, queue,
            ("PROVIDER_NAME", "fake"), ("FAKE_STOP_DURATION", "25s"), ("AMQP_CONSUMER_PRIORITY", "10"), ("HOSTNAME", "slow-teardown-host"));
        await using var quick = await InProcessWorker.StartAsync(broker.Uri, queue,
            ("PROVIDER_NAME", "fake"), ("HOSTNAME", "quick-host"));
        var first = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, first);
        var firstSeen = await tap.FinishedAsync(first.JobId, Patience);
        Assert.Contains("hostname: slow-teardown-host", Log(firstSeen));

        var second = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, second);
        var secondSeen = await tap.FinishedAsync(second.JobId, Patience);
        var slowThen = slow.Pool.Statuses;

        Assert.Equal("passed", secondSeen.Last(m => m.IsState).State);
        Assert.Contains("hostname: quick-host", Log(secondSeen));
        Assert.True(slowThen.Any(s => s.JobId == first.JobId && s.Step == JobSteps.StopInstance),
            "the job waited for the slow worker's teardown to end: " + string.Join("; ", slowThen));
        Assert.Equal(["received", "started", "passed"], secondSeen.Where(m => m.IsState).Select(m => m.State));
    }

    private static string Log(IReadOnlyList<Reported> seen) => string.Concat(seen.Where(m => m.IsLog).Select(m => m.Log));
}
