using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Amqp;
using Worker.Core.Jobs;
using Worker.TestSupport;

namespace Worker.Benchmarks;

/// <summary>
/// A fleet on one broker: 10,000 jobs through 4 <c>worker run</c> processes (fake backend, pool 8,
/// each job 100 ms). Jobs/s from the first job published to the last finish state, against the
/// ideal (processors ÷ job time); and, from the state updates as travis-hub would see them, the
/// jobs never finished (lost) and those that started or finished more than once (duplicated).
/// Goals: lost 0, duplicated 0.
/// </summary>
public static class FleetScaleBenchmark
{
    private const int Jobs = 10_000;
    private const int Workers = 4;
    private const int Pool = 8;
    private static readonly TimeSpan JobTime = TimeSpan.FromMilliseconds(100);

    public static async Task<int> RunAsync()
    {
        await using var broker = await AmqpThroughputBenchmark.LocalBroker.StartAsync();
        var queue = $"bench.fleet-{Guid.NewGuid():N}";
        await using var connection = await new ConnectionFactory { Uri = broker.Uri }.CreateConnectionAsync("bench fleet");
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);

        var workers = new List<WorkerProcess>();
        try
        {
            for (var i = 0; i < Workers; i++)
            {
                workers.Add(WorkerProcess.Start(new Dictionary<string, string>
                {
                    ["WORKER_QUEUE_TYPE"] = "amqp",
                    ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
                    ["WORKER_QUEUE_NAME"] = queue,
                    ["WORKER_PROVIDER_NAME"] = "fake",
                    ["WORKER_FAKE_RUN_SLEEP"] = $"{JobTime.TotalMilliseconds}ms",
                    ["WORKER_POOL_SIZE"] = Pool.ToString(CultureInfo.InvariantCulture),
                    ["WORKER_HOSTNAME"] = $"bench-fleet-{i}",
                    ["WORKER_LOG_LEVEL"] = "warning",
                }, AppContext.BaseDirectory, "run"));
            }
            await Eventually.TrueAsync(async () => (await channel.QueueDeclarePassiveAsync(queue)).ConsumerCount == Workers * Pool,
                "every processor of the fleet consumes", TimeSpan.FromSeconds(120), explain: () => string.Join("\n", workers.Select(w => w.Stderr)));
            // The workers declared the durable reporting queues; the watcher's own queue is what counts here.
            await channel.QueueDeleteAsync(AmqpNames.StateRoutingKey, ifUnused: false, ifEmpty: false);
            await channel.QueueDeleteAsync(AmqpNames.LogRoutingKey, ifUnused: false, ifEmpty: false);
            await using var watcher = await StateCounter.StartAsync(broker.Uri);

            var firstId = JobFile.NewJobId();
            var properties = new BasicProperties { Persistent = true, ContentType = "application/json", Type = "job:test" };
            var sw = Stopwatch.StartNew();
            var batch = new List<Task>();
            for (var i = 0; i < Jobs; i++)
            {
                var payload = JobFile.Parse($"id: {firstId + i}\nscript: [\"true\"]", queue);
                batch.Add(channel.BasicPublishAsync("", queue, false, properties, payload.ToUtf8Bytes()).AsTask());
                if (batch.Count == 256)
                {
                    await Task.WhenAll(batch);
                    batch.Clear();
                }
            }
            await Task.WhenAll(batch);
            var finishedAll = await watcher.WaitForFinishedAsync(Jobs, quiet: TimeSpan.FromSeconds(30));
            var elapsed = sw.Elapsed;
            await Task.Delay(TimeSpan.FromSeconds(2)); // a late duplicate would show now
            var (lost, duplicated) = watcher.Tally(Enumerable.Range(0, Jobs).Select(i => firstId + i));
            var rate = finishedAll / elapsed.TotalSeconds;
            var ideal = Workers * Pool / JobTime.TotalSeconds;
            Console.WriteLine($"fleet: {Jobs} jobs, {Workers} worker run x pool {Pool}, fake {JobTime.TotalMilliseconds:F0} ms jobs, one broker: " +
                $"{rate:F0} jobs/s, ideal {ideal:F0} (ratio {rate / ideal:F2}), {elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"fleet: lost {lost} (goal 0: {(lost == 0 ? "met" : "missed")}), duplicated {duplicated} (goal 0: {(duplicated == 0 ? "met" : "missed")})");
            foreach (var worker in workers)
            {
                Console.WriteLine($"  worker pid {worker.Id}: RSS {StartupBenchmark.ResidentBytes(worker.Id) / (1 << 20)} MB after the run");
            }
            return lost == 0 && duplicated == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Signal("TERM");
            }
            foreach (var worker in workers)
            {
                await worker.WaitAsync(TimeSpan.FromSeconds(60));
                await worker.DisposeAsync();
            }
            await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
        }
    }

    /// <summary>Counts each job's started and finish states on a queue of its own bound to <c>reporting</c>.</summary>
    private sealed class StateCounter : IAsyncDisposable
    {
        private readonly IConnection _connection;
        private readonly Dictionary<long, (int Started, int Finished)> _jobs = [];
        private int _finished;

        private StateCounter(IConnection connection) => _connection = connection;

        public static async Task<StateCounter> StartAsync(Uri uri)
        {
            var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench fleet states");
            var counter = new StateCounter(connection);
            var channel = await connection.CreateChannelAsync();
            var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
            await channel.QueueBindAsync(queue.QueueName, AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                counter.Take(delivery.BasicProperties.Type, delivery.Body.Span);
                return Task.CompletedTask;
            };
            await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer);
            return counter;
        }

        private void Take(string? type, ReadOnlySpan<byte> body)
        {
            var id = JsonDocument.Parse(body.ToArray()).RootElement.GetProperty("id").GetInt64();
            lock (_jobs)
            {
                var (started, finished) = _jobs.GetValueOrDefault(id);
                if (type == AmqpNames.StartType)
                {
                    started++;
                }
                else if (type == AmqpNames.FinishType)
                {
                    finished++;
                    _finished++;
                }
                _jobs[id] = (started, finished);
            }
        }

        /// <summary>Waits until <paramref name="count"/> finish states came, or none came for <paramref name="quiet"/>; returns how many came.</summary>
        public async Task<int> WaitForFinishedAsync(int count, TimeSpan quiet)
        {
            var last = -1;
            var since = Stopwatch.StartNew();
            while (true)
            {
                int now;
                lock (_jobs)
                {
                    now = _finished;
                }
                if (now >= count)
                {
                    return now;
                }
                if (now != last)
                {
                    last = now;
                    since.Restart();
                }
                else if (since.Elapsed > quiet)
                {
                    return now;
                }
                await Task.Delay(5);
            }
        }

        /// <summary>Jobs with no finish state; jobs started or finished more than once.</summary>
        public (int Lost, int Duplicated) Tally(IEnumerable<long> ids)
        {
            lock (_jobs)
            {
                int lost = 0, duplicated = 0;
                foreach (var id in ids)
                {
                    var (started, finished) = _jobs.GetValueOrDefault(id);
                    lost += finished == 0 ? 1 : 0;
                    duplicated += started > 1 || finished > 1 ? 1 : 0;
                }
                return (lost, duplicated);
            }
        }

        public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
    }
}
