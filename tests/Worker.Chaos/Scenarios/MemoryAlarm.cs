using System.Diagnostics;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// RabbitMQ's memory alarm (vm_memory_high_watermark set far below what the node uses) blocks every
/// publishing connection while jobs are writing their logs; the watermark goes back after a while.
/// </summary>
internal sealed class MemoryAlarm : IScenario
{
    public string Name => "RabbitMQ memory alarm mid-log";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? 40 : 150;
        var blocked = TimeSpan.FromSeconds(isShort ? 10 : 20);
        var queue = ChaosContext.NewQueue("memalarm");
        var logs = context.Folder("logs/" + queue);
        await using var tally = await StateTally.StartAsync(context.Broker);
        var output = string.Concat(Enumerable.Repeat("a line of log output that fills the log parts of this job\\n", 300));
        var workers = Enumerable.Range(1, 2)
            .Select(h => new ChaosWorker($"host{h}", context.AmqpWorker(queue, $"chaos-host{h}", null,
                ("FAKE_RUN_SLEEP", "500ms"), ("FAKE_LOG_OUTPUT", output), ("LOG_PART_MAX_SIZE", "2048")), logs))
            .ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            workers.ForEach(w => w.Start());
            var payloads = ChaosContext.Jobs(count, queue);
            await context.Broker.PublishAsync(queue, payloads.Select(p => p.ToUtf8Bytes()));
            var ids = payloads.Select(p => p.JobId).ToList();
            while (tally.Finished(ids) < count / 5 && clock.Elapsed < TimeSpan.FromMinutes(3))
            {
                await Task.Delay(100);
            }
            await context.Broker.CtlAsync("set_vm_memory_high_watermark", "0.0000001");
            var finishedWhenBlocked = tally.Finished(ids);
            await Task.Delay(blocked);
            var finishedWhileBlocked = tally.Finished(ids) - finishedWhenBlocked;
            await context.Broker.CtlAsync("set_vm_memory_high_watermark", "0.4");
            Console.WriteLine($"  {finishedWhileBlocked} finish state(s) got through in the {blocked.TotalSeconds:0} s of the alarm");
            var (lost, twice, duplicates) = await context.SettleAsync(tally, ids, queue, TimeSpan.FromMinutes(isShort ? 2 : 4), workers);
            var failures = ChaosContext.Goal(lost);
            failures.AddRange(await ChaosContext.LivenessAsync(workers, TimeSpan.FromSeconds(60)));
            return new ScenarioResult($"{Name} ({blocked.TotalSeconds:0} s)", count, lost, twice, duplicates, clock.Elapsed, failures);
        }
        finally
        {
            await context.Broker.CtlAsync("set_vm_memory_high_watermark", "0.4");
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }
}
