using System.Diagnostics;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// dockerd restarted while jobs run on the Docker backend: the suite's own dockerd (see
/// <see cref="SeparateDockerd"/>) gets a SIGTERM, which stops the job containers, and starts again.
/// </summary>
internal sealed class DockerdRestart : IScenario
{
    public string Name => "dockerd restarted mid-job";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? 12 : 50;
        var queue = ChaosContext.NewQueue("dockerd");
        var logs = context.Folder("logs/" + queue);
        const string Image = "worker-job-base:bookworm";
        await using var dockerd = await SeparateDockerd.StartAsync(logs, Image);
        await using var tally = await StateTally.StartAsync(context.Broker);
        (string, string)[] docker = [("PROVIDER_NAME", "docker"), ("POOL_SIZE", "3"), ("DOCKER_ENDPOINT", SeparateDockerd.Host),
            ("DOCKER_NETWORK", "none"), ("DOCKER_IMAGE_DEFAULT", Image), ("DOCKER_PULL", "never")];
        var workers = Enumerable.Range(1, 2)
            .Select(h => new ChaosWorker($"host{h}", context.AmqpWorker(queue, $"chaos-host{h}", null, docker), logs))
            .ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            workers.ForEach(w => w.Start());
            var payloads = ChaosContext.Jobs(count, queue, "sleep 3");
            await context.Broker.PublishAsync(queue, payloads.Select(p => p.ToUtf8Bytes()));
            var ids = payloads.Select(p => p.JobId).ToList();
            while (tally.Finished(ids) < count / 4 && !workers.Any(w => w.ExitedOnItsOwn) && clock.Elapsed < TimeSpan.FromMinutes(3))
            {
                await Task.Delay(100);
            }
            await dockerd.RestartAsync();
            var (lost, twice, duplicates) = await context.SettleAsync(tally, ids, queue, TimeSpan.FromMinutes(isShort ? 3 : 6), workers);
            var failures = ChaosContext.Goal(lost);
            failures.AddRange(await ChaosContext.LivenessAsync(workers, TimeSpan.FromSeconds(90)));
            var (left, keptUntilDeadline) = await DockerLeftovers.AfterCleanupAsync(workers, context.AmqpWorker(queue, "chaos-host1", null, docker), logs, SeparateDockerd.Host);
            failures.AddRange(left);
            return new ScenarioResult(keptUntilDeadline > 0 ? $"{Name}, {keptUntilDeadline} container(s) kept until their deadline" : Name, count, lost, twice, duplicates, clock.Elapsed, failures);
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
