using System.Diagnostics;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// kill -9 of worker processes at random moments while jobs run: each killed worker is started
/// again on its host (same BASE_DIR) a moment later, and its jobs come back to the queue.
/// </summary>
internal sealed class KillWorkers(string name, int hosts, int jobs, int shortJobs, string provider, string script,
    (string Key, string Value)[] settings, TimeSpan between) : IScenario
{
    public string Name => name;

    public static KillWorkers Fake() => new("kill -9 workers (fake)", 3, 1000, 200, "fake", "true",
        [("FAKE_RUN_SLEEP", "300ms")], TimeSpan.FromSeconds(1.5));

    public static KillWorkers Docker() => new("kill -9 workers (Docker)", 2, 50, 12, "docker", "sleep 1",
        [("POOL_SIZE", "3"), ("DOCKER_IMAGE_DEFAULT", "worker-job-base:bookworm"), ("DOCKER_API_VERSION", "1.41")], TimeSpan.FromSeconds(8));

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? shortJobs : jobs;
        var queue = ChaosContext.NewQueue(provider + "-kill");
        var logs = context.Folder("logs/" + queue);
        await using var tally = await StateTally.StartAsync(context.Broker);
        var workers = Enumerable.Range(1, hosts)
            .Select(h => new ChaosWorker($"host{h}", context.AmqpWorker(queue, $"chaos-host{h}", null, [("PROVIDER_NAME", provider), .. settings]), logs))
            .ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            workers.ForEach(w => w.Start());
            var payloads = ChaosContext.Jobs(count, queue, script);
            await context.Broker.PublishAsync(queue, payloads.Select(p => p.ToUtf8Bytes()));
            var ids = payloads.Select(p => p.JobId).ToList();
            var random = new Random(14);
            while (tally.Finished(ids) < count * 9 / 10 && !workers.Any(w => w.ExitedOnItsOwn) && clock.Elapsed < TimeSpan.FromMinutes(isShort ? 2 : 15))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next((int)between.TotalMilliseconds / 2, (int)between.TotalMilliseconds * 3 / 2)));
                var victim = workers[random.Next(workers.Count)];
                victim.Kill();
                await Task.Delay(500);
                victim.Start();
            }
            var (lost, twice, duplicates) = await context.SettleAsync(tally, ids, queue, TimeSpan.FromMinutes(isShort ? 2 : 10), workers);
            var failures = ChaosContext.Goal(lost);
            failures.AddRange(await ChaosContext.LivenessAsync(workers, TimeSpan.FromSeconds(60)));
            var keptUntilDeadline = 0;
            if (provider == "docker")
            {
                (var left, keptUntilDeadline) = await DockerLeftovers.AfterCleanupAsync(workers, context.AmqpWorker(queue, "chaos-host1", null, [("PROVIDER_NAME", provider), .. settings]), logs);
                failures.AddRange(left);
            }
            var kills = workers.Sum(w => w.Kills);
            Console.WriteLine($"  {Name}: {kills} kills");
            return new ScenarioResult($"{Name}, {kills} kills" + (keptUntilDeadline > 0 ? $", {keptUntilDeadline} container(s) kept until their deadline" : ""), count, lost, twice, duplicates, clock.Elapsed, failures);
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
