using System.Diagnostics;

namespace Worker.Chaos.Scenarios;

/// <summary>The broker stopped and started again mid-run, with jobs running, results and acks in flight.</summary>
internal sealed class BrokerRestart : IScenario
{
    public string Name => "broker restarted mid-run";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? 100 : 600;
        var queue = ChaosContext.NewQueue("restart");
        var logs = context.Folder("logs/" + queue);
        await using var tally = await StateTally.StartAsync(context.Broker);
        var workers = Enumerable.Range(1, 2)
            .Select(h => new ChaosWorker($"host{h}", context.AmqpWorker(queue, $"chaos-host{h}", null, ("FAKE_RUN_SLEEP", "100ms")), logs))
            .ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            workers.ForEach(w => w.Start());
            var payloads = ChaosContext.Jobs(count, queue);
            await context.Broker.PublishAsync(queue, payloads.Select(p => p.ToUtf8Bytes()));
            var ids = payloads.Select(p => p.JobId).ToList();
            var restarts = isShort ? 1 : 2;
            for (var r = 1; r <= restarts; r++)
            {
                while (tally.Finished(ids) < count * r / (restarts + 1) && clock.Elapsed < TimeSpan.FromMinutes(5))
                {
                    await Task.Delay(100);
                }
                await context.Broker.RestartAsync(TimeSpan.FromSeconds(3));
            }
            var (lost, twice, duplicates) = await context.SettleAsync(tally, ids, queue, TimeSpan.FromMinutes(isShort ? 2 : 5), workers);
            var failures = ChaosContext.Goal(lost);
            failures.AddRange(await ChaosContext.LivenessAsync(workers, TimeSpan.FromSeconds(60)));
            return new ScenarioResult($"{Name} ({restarts}x)", count, lost, twice, duplicates, clock.Elapsed, failures);
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }
}
