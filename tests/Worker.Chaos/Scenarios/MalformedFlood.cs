using System.Diagnostics;
using System.Security.Cryptography;
using RabbitMQ.Client;
using Worker.Amqp;
using Worker.Core.Jobs;
using Worker.TestSupport;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// Malformed payloads (tests/Shared/MalformedPayloads: random JSON mutations, invalid UTF-8, 10 MB
/// fields, wrong types, missing ids) on the queue of a running worker: each one is dead-lettered with
/// its reason, or, where the mutation left it usable, runs to a finish; none is lost or stuck.
/// </summary>
internal sealed class MalformedFlood : IScenario
{
    public string Name => "malformed payloads";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? 100 : 500;
        var queue = ChaosContext.NewQueue("malformed");
        var logs = context.Folder("logs/" + queue);
        await using var tally = await StateTally.StartAsync(context.Broker);
        var worker = new ChaosWorker("host1", context.AmqpWorker(queue, "chaos-host1"), logs);
        var clock = Stopwatch.StartNew();
        try
        {
            worker.Start();
            var payloads = MalformedPayloads.Generate(14, count, firstJobId: JobFile.NewJobId() + 500_000_000).ToList();
            await context.Broker.PublishAsync(queue, payloads.Select(p => p.Bytes));
            while (await context.Broker.MessagesAsync(queue) != 0 && clock.Elapsed < TimeSpan.FromMinutes(isShort ? 2 : 5))
            {
                await Task.Delay(500);
            }
            await Task.Delay(3000); // the last finish states
            var dead = await DeadLettersAsync(context.Broker, AmqpNames.DeadLetterQueue(queue));
            var failures = new List<string>();
            var withoutReason = dead.Count(d => string.IsNullOrWhiteSpace(d.Reason));
            if (withoutReason > 0)
            {
                failures.Add($"{withoutReason} dead letter(s) without a reason");
            }
            var deadHashes = dead.Select(d => d.Hash).ToHashSet();
            var ran = 0;
            var lost = 0;
            foreach (var payload in payloads.Where(p => !deadHashes.Contains(Hash(p.Bytes))))
            {
                long? id = null;
                try
                {
                    id = JobPayload.Parse(payload.Bytes).JobId;
                }
                catch (Exception)
                {
                }
                if (id is { } jobId && tally.Of(jobId).Finishes.Count > 0)
                {
                    ran++;
                }
                else
                {
                    lost++;
                }
            }
            Console.WriteLine($"  {dead.Count} dead-lettered with a reason, {ran} usable ones ran to a finish, {lost} neither");
            failures.AddRange(ChaosContext.Goal(lost));
            failures.AddRange(await ChaosContext.LivenessAsync([worker], TimeSpan.FromSeconds(30)));
            return new ScenarioResult($"{Name} ({dead.Count} dead-lettered, {ran} ran)", count, lost, 0, 0, clock.Elapsed, failures);
        }
        finally
        {
            await worker.DisposeAsync();
        }
    }

    private static string Hash(byte[] body) => Convert.ToHexString(SHA256.HashData(body));

    private static async Task<List<(string Hash, string? Reason)>> DeadLettersAsync(ChaosBroker broker, string queue)
    {
        var dead = new List<(string, string?)>();
        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
        {
            var reason = message.BasicProperties.Headers?.TryGetValue(AmqpNames.ErrorHeader, out var value) == true
                ? value is byte[] bytes ? System.Text.Encoding.UTF8.GetString(bytes) : value?.ToString()
                : null;
            dead.Add((Hash(message.Body.ToArray()), reason));
        }
        return dead;
    }
}
