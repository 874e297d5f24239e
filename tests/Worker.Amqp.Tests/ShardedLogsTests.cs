using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;

namespace Worker.Amqp.Tests;

/// <summary>
/// travis-worker's <c>RABBITMQ_SHARDING</c>: log parts go to the x-modulus-hash exchange
/// <c>reporting.jobs.logs_sharded</c> with the job id as routing key, for a travis-logs that reads
/// the shards; states and everything else stay as they were. The broker needs rabbitmq_sharding.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ShardedLogsTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public Task InitializeAsync() => broker.RequirePluginAsync(AmqpNames.ShardingPlugin);

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_sharding_a_jobs_log_parts_reach_the_sharded_exchange_in_order_keyed_by_its_id_and_none_reach_reporting_jobs_logs(
        bool logsOnTheirOwnConnection)
    {
        var queue = Broker.NewQueue("sharded");
        await using var tap = await ReportingTap.CreateAsync(broker.Uri, shardedLogs: true);
        (string, string)[] settings = logsOnTheirOwnConnection
            ? [("RABBITMQ_SHARDING", "true"), ("LOG_PART_MAX_SIZE", "32"), ("LOGS_AMQP_URI", broker.Uri.ToString())]
            : [("RABBITMQ_SHARDING", "true"), ("LOG_PART_MAX_SIZE", "32")];
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, settings);
        var payload = Broker.Job("script: [\"for i in 1 2 3 4 5 6 7 8; do echo sharded log line $i; done\"]", queue);
        await Broker.EnqueueAsync(broker.Uri, queue, payload);

        var seen = (await tap.FinishedAsync(payload.JobId, Patience)).ToList();

        var states = seen.Where(m => m.IsState).ToList();
        Assert.Equal(["received", "started", "passed"], states.Select(s => s.State));
        Assert.All(states, s => Assert.Equal((AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey), (s.Exchange, s.RoutingKey)));
        var logs = seen.Where(m => m.IsLog).ToList();
        Assert.True(logs.Count > 3, $"expected the log in several parts, got {logs.Count}");
        Assert.All(logs, l => Assert.Equal(
            (AmqpNames.ShardedLogExchange, payload.JobId.ToString(CultureInfo.InvariantCulture), AmqpNames.LogType),
            (l.Exchange, l.RoutingKey, l.Type)));
        Assert.Equal(Enumerable.Range(0, logs.Count), logs.Select(l => l.Number));
        Assert.Equal([.. Enumerable.Repeat(false, logs.Count - 1), true], logs.Select(l => l.Final));
        Assert.Contains("sharded log line 8", string.Concat(logs.Select(l => l.Log)));
        // The confirms still put the final part ahead of the finish state.
        Assert.True(seen.FindLastIndex(m => m.IsLog) < seen.FindIndex(m => m.State == "passed"));
        Assert.Equal(0u, await Broker.CountAsync(broker.Uri, AmqpNames.LogRoutingKey));
    }

    [Fact]
    public async Task With_sharding_submit_follow_says_it_follows_the_states_only_and_ends_at_the_finish_without_waiting_for_a_log()
    {
        var queue = Broker.NewQueue("sharded-follow");
        await using var worker = await InProcessWorker.StartAsync(broker.Uri, queue, ("RABBITMQ_SHARDING", "true"));
        var submitter = new AmqpSubmitter(new AmqpOptions { Uri = broker.Uri, ShardedLogs = true }, queue, NullLogger.Instance);
        var payload = Broker.Job("script: [\"echo a sharded log\"]", queue);
        var output = new StringWriter();
        var status = new StringWriter();

        using var timeout = new CancellationTokenSource(Patience);
        var result = await submitter.SubmitAsync(payload, follow: true, output, status, timeout.Token);

        Assert.Equal(FinishState.Passed, result);
        Assert.Contains($"Job {payload.JobId} passed", status.ToString());
        Assert.Contains("following its states only", status.ToString());
        Assert.DoesNotContain("did not arrive", status.ToString());
        Assert.Equal("", output.ToString());
    }
}
