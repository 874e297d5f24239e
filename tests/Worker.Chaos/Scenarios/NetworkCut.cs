using System.Diagnostics;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// A network cut between one worker and the broker: the worker runs in a network namespace of its
/// own, reaching the broker over a veth link (through a relay on the host side), and the link goes
/// down for 15 s, then up again. A second worker on the host keeps its link.
/// </summary>
internal sealed class NetworkCut : IScenario
{
    public string Name => "network cut 15 s (one worker of 2)";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        // Enough that jobs are left once the link is back and TCP's retransmission backoff (up to ~13 s after a 15 s cut) lets the cut worker take them.
        var count = isShort ? 240 : 400;
        var queue = ChaosContext.NewQueue("netcut");
        var logs = context.Folder("logs/" + queue);
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var subnet = $"10.231.{Random.Shared.Next(1, 250)}";
        await using var link = await VethNamespace.CreateAsync("chaos" + suffix, "vh" + suffix, "vn" + suffix, subnet + ".1", subnet + ".2");
        await using var relay = TcpRelay.Start(link.HostAddress, context.Broker.Port);
        await using var tally = await StateTally.StartAsync(context.Broker);
        var cut = new ChaosWorker("cut", context.AmqpWorker(queue, "chaos-cut", context.Broker.Via(link.HostAddress, relay.Port), ("FAKE_RUN_SLEEP", "1s")),
            logs, httpHost: link.InsideAddress, netns: link.Namespace);
        var steady = new ChaosWorker("steady", context.AmqpWorker(queue, "chaos-steady", null, ("FAKE_RUN_SLEEP", "1s")), logs);
        var workers = new[] { cut, steady };
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var worker in workers)
            {
                worker.Start();
            }
            var payloads = ChaosContext.Jobs(count, queue);
            await context.Broker.PublishAsync(queue, payloads.Select(p => p.ToUtf8Bytes()));
            var ids = payloads.Select(p => p.JobId).ToList();
            while (tally.Finished(ids) < count / 10 && clock.Elapsed < TimeSpan.FromMinutes(3))
            {
                await Task.Delay(100);
            }
            await link.SetHostSideAsync(up: false);
            await Task.Delay(TimeSpan.FromSeconds(15));
            await link.SetHostSideAsync(up: true);
            var ranBeforeItCameBack = cut.JobsRun();
            var (lost, twice, duplicates) = await context.SettleAsync(tally, ids, queue, TimeSpan.FromMinutes(isShort ? 2 : 4), workers);
            var failures = ChaosContext.Goal(lost);
            failures.AddRange(await ChaosContext.LivenessAsync(workers, TimeSpan.FromSeconds(90)));
            var ranAfter = cut.JobsRun() - ranBeforeItCameBack;
            Console.WriteLine($"  the cut worker ran {ranBeforeItCameBack} job(s) before its link came back, {ranAfter} after");
            if (ranAfter == 0)
            {
                failures.Add("the cut worker took no job once its link was back");
            }
            return new ScenarioResult(Name, count, lost, twice, duplicates, clock.Elapsed, failures);
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
