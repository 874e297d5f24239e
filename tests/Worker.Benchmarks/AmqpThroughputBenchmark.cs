using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Amqp;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Logs;
using Worker.Core.Pipeline;
using Worker.Core.Scripts;

namespace Worker.Benchmarks;

/// <summary>
/// The AMQP transport against plain RabbitMQ.Client doing the same work, on one broker in one run
/// (WORKER_BENCH_AMQP_URI, or a rabbitmq-server started here on loopback).
/// (a) Jobs/s through the whole worker (ProcessorPool, JobPipeline, AmqpJobQueue, fake backend) at
///     pool 1, 8 and 32, against a raw loop with as many consumers: prefetch 1, parse the payload,
///     publish received, started, the final log part and finish in that order on one channel,
///     wait for their confirms, ack.
/// (b) A job printing 100 MB: bytes/s of log delivered in order to a consumer, against publishing
///     the same parts (same size, same JSON) raw with confirms; and the worker's RSS growth.
/// The durable reporting.jobs.* queues are removed for the run, so both sides are measured
/// against the same in-memory consumer queue rather than the broker's disk.
/// </summary>
public static class AmqpThroughputBenchmark
{
    private const long LogBytes = 100L << 20;

    public static async Task<int> RunAsync()
    {
        await using var broker = await LocalBroker.StartAsync();
        var uri = broker.Uri;
        Console.WriteLine($"broker: {uri.Host}:{uri.Port}");
        var failed = false;

        // The machine is shared, so the sides run alternately, taking turns going first. A pool of 1
        // is bound by the broker's latency, which wanders most: it runs five rounds and counts the
        // median of each round's ratio (the two sides of a round see the same machine); the larger
        // pools count each side's best.
        // WORKER_BENCH_AMQP_RAW_VS_RAW=1 measures the raw loop against itself in the worker's place:
        // the ratio a side with no cost of its own gets here, i.e. how far this machine's noise moves it.
        var rawVsRaw = Environment.GetEnvironmentVariable("WORKER_BENCH_AMQP_RAW_VS_RAW") == "1";
        foreach (var pool in Pools())
        {
            var jobs = pool == 1 ? 1000 : 3000;
            var warmUpJobs = pool == 1 ? 1000 : 200;
            Func<int, Task<WorkerRun>> workerSide = rawVsRaw ? count => RawRunAsync(uri, count, pool) : count => WorkerRunAsync(uri, count, pool);
            var warmUps = await WarmUpAsync(() => workerSide(warmUpJobs), () => RawRunAsync(uri, warmUpJobs, pool));
            var rawRuns = new List<WorkerRun>();
            var workerRuns = new List<WorkerRun>();
            for (var round = 0; round < (pool == 1 ? 5 : 2); round++)
            {
                if (round % 2 == 0)
                {
                    rawRuns.Add(await RawRunAsync(uri, jobs, pool));
                    workerRuns.Add(await workerSide(jobs));
                }
                else
                {
                    workerRuns.Add(await workerSide(jobs));
                    rawRuns.Add(await RawRunAsync(uri, jobs, pool));
                }
            }
            var raws = rawRuns.Select(r => r.PerSecond).ToList();
            var workers = workerRuns.Select(r => r.PerSecond).ToList();
            var (raw, worker, ratio, how) = pool == 1
                ? (Median(raws), Median(workers), Median(workers.Zip(raws, (w, r) => w / r)), "median of 5 rounds' ratios")
                : (raws.Max(), workers.Max(), workers.Max() / raws.Max(), "best of 2 rounds");
            var goal = pool == 1 ? 0.9 : 0.8;
            failed |= ratio < goal;
            var alone = await PipelineAloneJobsPerSecondAsync(jobs, pool);
            Console.WriteLine($"jobs, pool {pool,2}: raw {raw,7:F0} jobs/s  {(rawVsRaw ? "raw again" : "worker")} {worker,7:F0} jobs/s  ratio {ratio:F2} ({how}; goal >= {goal:F2})" +
                $"  [pipeline alone, in-memory queue: {alone:F0} jobs/s]");
            if (pool == 1)
            {
                Console.WriteLine($"  rounds (raw/worker jobs/s): {string.Join("  ", raws.Zip(workers, (r, w) => $"{r:F0}/{w:F0}"))}");
            }
            Console.WriteLine($"  methods the JIT compiled in each round (raw/worker): {string.Join("  ", rawRuns.Zip(workerRuns, (r, w) => $"{r.Jitted}/{w.Jitted}"))}" +
                $", after {warmUps} warm-up pairs");
            // What each side costs this process (both run in it): at pool 1 its work shares the two cores with the broker.
            Console.WriteLine($"  this process per job, median of the rounds: raw {PerJob(rawRuns)}; worker {PerJob(workerRuns)}");
        }

        if (Environment.GetEnvironmentVariable("WORKER_BENCH_AMQP_POOLS") is { Length: > 0 })
        {
            return failed ? 1 : 0; // only the pools asked for
        }
        failed |= !await TelemetryCostAsync(uri);

        double rawLog = 0, workerLog = 0;
        long rssGrowth = 0;
        for (var round = 0; round < 2; round++)
        {
            rawLog = Math.Max(rawLog, await RawLogBytesPerSecondAsync(uri));
            var (bytesPerSecond, growth) = await WorkerLogBytesPerSecondAsync(uri);
            workerLog = Math.Max(workerLog, bytesPerSecond);
            rssGrowth = Math.Max(rssGrowth, growth);
        }
        var logRatio = workerLog / rawLog;
        failed |= logRatio < 0.5 || rssGrowth >= 64 << 20;
        Console.WriteLine($"100 MB log: raw {rawLog / (1 << 20),6:F1} MB/s  worker {workerLog / (1 << 20),6:F1} MB/s  ratio {logRatio:F2} (goal >= 0.50)");
        Console.WriteLine($"100 MB log: worker RSS growth {rssGrowth / (1 << 20)} MB, the larger of two runs (goal < 64 MB)");
        return failed ? 1 : 0;
    }

    /// <summary>
    /// Runs the two sides in turn until the JIT has settled: tiered compilation recompiles a hot path
    /// in the background for thousands of jobs, and a run during that shares this machine's two cores
    /// with the compiler (its first measured rounds spent up to half their time compiling). A worker
    /// runs for days, so its steady state is what counts: the warm-up ends once a run of each side
    /// compiled fewer than <see cref="SettledCompiles"/> methods, or after <see cref="MaxWarmUps"/> pairs.
    /// </summary>
    /// <returns>The pairs it took.</returns>
    private static async Task<int> WarmUpAsync(Func<Task<WorkerRun>> one, Func<Task<WorkerRun>> other)
    {
        for (var pairs = 1; ; pairs++)
        {
            var (a, b) = (await one(), await other());
            if ((a.Jitted < SettledCompiles && b.Jitted < SettledCompiles) || pairs == MaxWarmUps)
            {
                return pairs;
            }
        }
    }

    private const int SettledCompiles = 25;
    private const int MaxWarmUps = 15;

    private static string PerJob(List<WorkerRun> runs) =>
        $"{Median(runs.Select(r => r.Cpu)):F0} us CPU, {Median(runs.Select(r => r.Gc.Allocated / (double)r.Jobs)) / 1024:F1} KB allocated, " +
        $"{Median(runs.Select(r => r.WorkItems)):F1} thread-pool work items";

    /// <summary>WORKER_BENCH_AMQP_POOLS (e.g. "1") runs those pools only, and no log benchmark; else 1, 8 and 32.</summary>
    private static int[] Pools() => Environment.GetEnvironmentVariable("WORKER_BENCH_AMQP_POOLS") is { Length: > 0 } pools
        ? [.. pools.Split(',').Select(int.Parse)]
        : [1, 8, 32];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    // ---- (a) jobs per second ----


    /// <summary>Jobs per second through the whole worker, and the CPU time this process spent per job meanwhile.</summary>
    private static async Task<WorkerRun> WorkerRunAsync(Uri uri, int jobs, int pool)
    {
        var queueName = $"bench.jobs-{Guid.NewGuid():N}";
        var options = new WorkerOptions { ProcessorCount = pool, JobQueueName = queueName, Teardown = TimeSpan.FromSeconds(30) };
        using var finishedFile = new TemporaryFinishedJobs(queueName);
        await using var queue = new AmqpJobQueue(new AmqpOptions { Uri = uri }, queueName, new JobCancellations(), NullLoggerFactory.Instance, "bench",
            finishedFile.Record);
        await queue.StartAsync(CancellationToken.None);
        await using var watcher = await FinishWatcher.StartAsync(uri);
        await PublishJobsAsync(uri, queueName, jobs);
        var pipeline = new JobPipeline(options, new FakeBackend(new FakeOptions { Output = "hello from a benchmark job\n" }), new BuiltinScriptGenerator(),
            new JobCancellations(), new MachineLabels("bench", "bench-host", TimeSpan.FromMinutes(10)), NullLogger<JobPipeline>.Instance);
        var processors = new ProcessorPool(queue, pipeline, pool, NullLogger<ProcessorPool>.Instance);
        CollectGarbage();
        using var meter = new RunMeter();
        var running = processors.RunAsync(CancellationToken.None);
        await watcher.WaitAsync(jobs);
        var run = meter.Stop(jobs);
        await processors.DrainAsync(TimeSpan.FromSeconds(30));
        await running;
        await DeleteQueueAsync(uri, queueName);
        return run;
    }

    /// <summary>This host's record of finished jobs in a file, as <c>worker run</c> keeps it: an entry is written with each ack.</summary>
    private sealed class TemporaryFinishedJobs : IDisposable
    {
        private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("bench-finished-");

        public TemporaryFinishedJobs(string queueName) =>
            Record = new FinishedJobs(Path.Combine(_dir.FullName, "finished", queueName + ".jsonl"), NullLogger.Instance);

        public FinishedJobs Record { get; }

        public void Dispose()
        {
            Record.Dispose();
            _dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A full collection before each timed run, as benchmark harnesses make, so no run pays for
    /// what an earlier one left: the other side's garbage, or a telemetry provider's start-up.
    /// </summary>
    private static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>
    /// One run of the worker (or the raw loop): its rate, this process's CPU time per job, the
    /// collections it took, the thread pool's work items per job (each a hand-off between threads),
    /// and the methods the JIT compiled meanwhile (the JIT shares the cores).
    /// </summary>
    private sealed record WorkerRun(double PerSecond, double Cpu, GcCounts Gc, int Jobs, double WorkItems, long Jitted);

    /// <summary>This process's work from its making until <see cref="Stop"/>: time, CPU, collections, thread-pool work items and methods compiled.</summary>
    private sealed class RunMeter : IDisposable
    {
        private readonly Process _self = Process.GetCurrentProcess();
        private readonly TimeSpan _cpu;
        private readonly GcCounts _gc = GcCounts.Now();
        private readonly long _workItems = ThreadPool.CompletedWorkItemCount;
        private readonly long _jitted = System.Runtime.JitInfo.GetCompiledMethodCount();
        private readonly long _started = Stopwatch.GetTimestamp();

        public RunMeter() => _cpu = _self.TotalProcessorTime;

        /// <summary>The run so far, over <paramref name="jobs"/> jobs.</summary>
        public WorkerRun Stop(int jobs)
        {
            var elapsed = Stopwatch.GetElapsedTime(_started);
            _self.Refresh();
            return new WorkerRun(jobs / elapsed.TotalSeconds, (_self.TotalProcessorTime - _cpu).TotalMicroseconds / jobs, GcCounts.Now() - _gc, jobs,
                (ThreadPool.CompletedWorkItemCount - _workItems) / (double)jobs, System.Runtime.JitInfo.GetCompiledMethodCount() - _jitted);
        }

        public void Dispose() => _self.Dispose();
    }

    /// <summary>The garbage collector's work so far in this process (or between two points, subtracted).</summary>
    private readonly record struct GcCounts(int Gen0, int Gen1, int Gen2, long Allocated, TimeSpan Paused)
    {
        public static GcCounts Now() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes(), GC.GetTotalPauseDuration());

        public static GcCounts operator -(GcCounts a, GcCounts b) =>
            new(a.Gen0 - b.Gen0, a.Gen1 - b.Gen1, a.Gen2 - b.Gen2, a.Allocated - b.Allocated, a.Paused - b.Paused);

        public static GcCounts operator +(GcCounts a, GcCounts b) =>
            new(a.Gen0 + b.Gen0, a.Gen1 + b.Gen1, a.Gen2 + b.Gen2, a.Allocated + b.Allocated, a.Paused + b.Paused);

        /// <summary>Collections by generation, bytes allocated per job, and the time paused, over <paramref name="jobs"/> jobs.</summary>
        public string Describe(int jobs) => $"GCs {Gen0}/{Gen1}/{Gen2}, {Allocated / jobs / 1024.0:F1} KB allocated per job, paused {Paused.TotalMilliseconds:F0} ms";
    }

    /// <summary>Only the telemetry comparison (<c>amqp-telemetry</c>), on a broker of its own.</summary>
    public static async Task<int> TelemetryOnlyAsync()
    {
        await using var broker = await LocalBroker.StartAsync();
        return await TelemetryCostAsync(broker.Uri) ? 0 : 1;
    }

    /// <summary>
    /// Pool 8 with telemetry off (no exporter: no span is created) and fully on (every job traced and
    /// its spans exported over OTLP/HTTP to a sink in another process on loopback, as a collector
    /// runs; metrics recorded), alternately in one run; the median of the rounds' ratios counts.
    /// Goal: on is at most 5% slower. This process's CPU time per job is printed beside it, and the
    /// sink's, which a collector on another machine would not take from the worker's cores.
    /// </summary>
    private static async Task<bool> TelemetryCostAsync(Uri uri)
    {
        const int pool = 8, jobs = 5000, rounds = 11;
        var sinkCpus = new List<double>();
        await using var sink = await OtlpSinkProcess.StartAsync();
        // OTEL_BSP_* in the benchmark's environment tune the span batches as they would a worker's.
        var settings = Worker.Core.Configuration.SettingsSource.From([("OTEL_EXPORTER_OTLP_ENDPOINT", sink.Endpoint.ToString()),
            .. Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("OTEL_BSP_", StringComparison.Ordinal))
                .Select(k => (k, Environment.GetEnvironmentVariable(k)!))]);
        Worker.Telemetry.TelemetryExport On() => Worker.Telemetry.TelemetryExport.Start(settings, new WorkerOptions(), new Worker.Telemetry.TelemetryOptions(), prometheus: false);
        async Task<WorkerRun> OffAsync() => await WorkerRunAsync(uri, jobs, pool);
        async Task<WorkerRun> OnAsync()
        {
            var sinkCpu = sink.CpuTime;
            WorkerRun run;
            using (On())
            {
                run = await WorkerRunAsync(uri, jobs, pool);
            } // flushed
            sinkCpus.Add((sink.CpuTime - sinkCpu).TotalMicroseconds / jobs);
            return run;
        }
        // Telemetry's code on takes longer to settle in the JIT than the worker's alone.
        var warmUps = await WarmUpAsync(OffAsync, OnAsync);
        await sink.TakeSpanCountAsync();
        sinkCpus.Clear();
        var offs = new List<WorkerRun>();
        var ons = new List<WorkerRun>();
        long spans = 0;
        for (var round = 0; round < rounds; round++)
        {
            // The sides take turns going first, so neither always runs on the other's leftovers.
            if (round % 2 == 0)
            {
                offs.Add(await OffAsync());
                ons.Add(await OnAsync());
            }
            else
            {
                ons.Add(await OnAsync());
                offs.Add(await OffAsync());
            }
            spans += await sink.TakeSpanCountAsync();
        }
        // Each round's pair ran back to back, so its ratio sees the same machine; their median counts.
        var ratio = Median(ons.Zip(offs, (n, f) => n.PerSecond / f.PerSecond));
        var (off, on) = (Median(offs.Select(r => r.PerSecond)), Median(ons.Select(r => r.PerSecond)));
        var (offCpu, onCpu) = (Median(offs.Select(r => r.Cpu)), Median(ons.Select(r => r.Cpu)));
        var expected = (long)rounds * jobs * (1 + Worker.Core.Telemetry.JobTrace.Stages.Count); // a job and its stages; the fake backend makes no API calls
        Console.WriteLine($"telemetry, pool {pool}: off {off,7:F0} jobs/s  fully on {on,7:F0} jobs/s  ratio {ratio:F3} (median of {rounds} rounds' ratios; goal >= 0.95)" +
            $"  [spans exported {spans} of {expected}; this process's CPU per job: off {offCpu:F0} us, on {onCpu:F0} us; the sink's {Median(sinkCpus):F0} us]");
        Console.WriteLine($"  rounds (off/on jobs/s): {string.Join("  ", offs.Zip(ons, (f, n) => $"{f.PerSecond:F0}/{n.PerSecond:F0}"))}");
        Console.WriteLine($"  methods the JIT compiled in each round (off/on): {string.Join("  ", offs.Zip(ons, (f, n) => $"{f.Jitted}/{n.Jitted}"))}" +
            $", after {warmUps} warm-up pairs");
        // Collections by generation over all rounds of a side (each run starts after a full collection).
        Console.WriteLine($"  off: {offs.Aggregate(default(GcCounts), (sum, r) => sum + r.Gc).Describe(offs.Sum(r => r.Jobs))}");
        Console.WriteLine($"  on:  {ons.Aggregate(default(GcCounts), (sum, r) => sum + r.Gc).Describe(ons.Sum(r => r.Jobs))}");
        return ratio >= 0.95 && spans == expected;
    }

    /// <summary>The same pipeline and fake backend without a broker: what the job itself costs, which the raw loop doesn't pay.</summary>
    private static async Task<double> PipelineAloneJobsPerSecondAsync(int jobs, int pool)
    {
        var queue = new Worker.Core.Queues.InMemoryJobQueue();
        var firstId = JobFile.NewJobId();
        var enqueued = Enumerable.Range(0, jobs).Select(i => queue.Enqueue(JobFile.Parse($"id: {firstId + i}\nscript: [\"echo {i}\"]", "memory"))).ToList();
        queue.Complete();
        var pipeline = new JobPipeline(new WorkerOptions { ProcessorCount = pool }, new FakeBackend(new FakeOptions { Output = "hello from a benchmark job\n" }),
            new BuiltinScriptGenerator(), new JobCancellations(), new MachineLabels("bench", "bench-host", TimeSpan.FromMinutes(10)), NullLogger<JobPipeline>.Instance);
        var processors = new ProcessorPool(queue, pipeline, pool, NullLogger<ProcessorPool>.Instance);
        var sw = Stopwatch.StartNew();
        var running = processors.RunAsync(CancellationToken.None);
        await Task.WhenAll(enqueued.Select(j => j.Outcome));
        var elapsed = sw.Elapsed;
        await processors.DrainAsync(TimeSpan.FromSeconds(10));
        await running;
        return jobs / elapsed.TotalSeconds;
    }

    /// <summary>Jobs per second through the raw loop, and this process's work meanwhile.</summary>
    private static async Task<WorkerRun> RawRunAsync(Uri uri, int jobs, int pool)
    {
        var queueName = $"bench.raw-{Guid.NewGuid():N}";
        await using var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench raw");
        await using (var setup = await connection.CreateChannelAsync())
        {
            await setup.QueueDeclareAsync(queueName, durable: true, exclusive: false, autoDelete: false);
        }
        await using var watcher = await FinishWatcher.StartAsync(uri);
        await PublishJobsAsync(uri, queueName, jobs);
        CollectGarbage();
        using var meter = new RunMeter();
        var channels = new List<IChannel>();
        // Bounded, so a set-up call that never gets its answer fails the run instead of hanging it (seen once at pool 32).
        using var setupTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var acked = 0;
        var allAcked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < pool; i++)
        {
            var consume = await connection.CreateChannelAsync(cancellationToken: setupTimeout.Token);
            var publish = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), setupTimeout.Token);
            channels.Add(consume);
            channels.Add(publish);
            await consume.BasicQosAsync(0, 1, false, setupTimeout.Token);
            var consumer = new AsyncEventingBasicConsumer(consume);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                var payload = JobPayload.Parse(delivery.Body.Span);
                var received = Publish(publish, State(payload, "received", 0));
                var started = Publish(publish, State(payload, "started", 1));
                var log = Publish(publish, WireFormat.LogPart(new LogPart(payload.JobId, 0, "hello from a benchmark job\n", true), payload.Uuid));
                var finished = Publish(publish, State(payload, "passed", 2));
                await Task.WhenAll(received, started, log, finished);
                await consume.BasicAckAsync(delivery.DeliveryTag, false);
                if (Interlocked.Increment(ref acked) == jobs)
                {
                    allAcked.TrySetResult();
                }
            };
            await consume.BasicConsumeAsync(queueName, autoAck: false, consumer, setupTimeout.Token);
        }
        await watcher.WaitAsync(jobs);
        var run = meter.Stop(jobs);
        // A handler still between its finish and its ack must end before the channels close: an ack
        // sent on a channel the broker already closed is a connection error, and RabbitMQ.Client then
        // waits for the other handlers' confirms forever (the run hung so once at pool 8).
        await allAcked.Task.WaitAsync(TimeSpan.FromMinutes(1));
        using var teardown = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        foreach (var channel in channels)
        {
            await channel.CloseAsync(teardown.Token);
        }
        await DeleteQueueAsync(uri, queueName);
        return run;
    }

    private static OutgoingMessage State(JobPayload payload, string state, int count) => WireFormat.StateUpdate(
        state switch { "received" => AmqpNames.ReceiveType, "started" => AmqpNames.StartType, _ => AmqpNames.FinishType },
        state, payload, payload.Uuid, count, "raw-instance", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null);

    private static Task Publish(IChannel channel, OutgoingMessage message) =>
        channel.BasicPublishAsync(message.Exchange, message.RoutingKey, false, message.Properties, message.Body).AsTask();

    private static async Task PublishJobsAsync(Uri uri, string queueName, int jobs)
    {
        await using var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench jobs");
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.QueueDeclareAsync(queueName, durable: true, exclusive: false, autoDelete: false);
        var properties = new BasicProperties { Persistent = true, ContentType = "application/json", Type = "job:test" };
        var batch = new List<Task>();
        var firstId = JobFile.NewJobId();
        for (var i = 0; i < jobs; i++)
        {
            var payload = JobFile.Parse($"id: {firstId + i}\nscript: [\"echo {i}\"]", queueName);
            batch.Add(channel.BasicPublishAsync("", queueName, false, properties, payload.ToUtf8Bytes()).AsTask());
            if (batch.Count == 256)
            {
                await Task.WhenAll(batch);
                batch.Clear();
            }
        }
        await Task.WhenAll(batch);
    }

    /// <summary>Counts finish states on a queue of its own bound to <c>reporting</c>, as travis-hub would see them.</summary>
    private sealed class FinishWatcher : IAsyncDisposable
    {
        private readonly IConnection _connection;
        private readonly IChannel _channel;
        private int _finished;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private FinishWatcher(IConnection connection, IChannel channel)
        {
            _connection = connection;
            _channel = channel;
        }

        public static async Task<FinishWatcher> StartAsync(Uri uri)
        {
            var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench watcher");
            var channel = await connection.CreateChannelAsync();
            await AmqpTopology.DeclareReportingAsync(channel, default);
            await RemoveDurableReportingQueuesAsync(channel);
            var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
            await channel.QueueBindAsync(queue.QueueName, AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey);
            var watcher = new FinishWatcher(connection, channel);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                if (delivery.BasicProperties.Type == AmqpNames.FinishType)
                {
                    Interlocked.Increment(ref watcher._finished);
                    Interlocked.Exchange(ref watcher._changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
                return Task.CompletedTask;
            };
            await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer);
            return watcher;
        }

        public async Task WaitAsync(int finished)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            while (Volatile.Read(ref _finished) < finished)
            {
                await Volatile.Read(ref _changed).Task.WaitAsync(TimeSpan.FromMilliseconds(50), timeout.Token)
                    .ContinueWith(_ => { }, TaskScheduler.Default);
                timeout.Token.ThrowIfCancellationRequested();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _channel.CloseAsync();
            await _connection.DisposeAsync();
        }
    }

    // ---- (b) 100 MB of log ----

    private static async Task<double> RawLogBytesPerSecondAsync(Uri uri)
    {
        await using var consumer = await LogConsumer.StartAsync(uri);
        await using var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench raw log");
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var partSize = WorkerOptions.LogPartMaxSize.Default;
        var text = ChattyBackend.Chunk;
        var sw = Stopwatch.StartNew();
        var batch = new List<Task>(256);
        var number = 0;
        var offset = 0;
        for (long sent = 0; sent < LogBytes; sent += partSize)
        {
            var part = new StringBuilder(partSize);
            while (part.Length < partSize)
            {
                var take = Math.Min(partSize - part.Length, text.Length - offset);
                part.Append(text, offset, take);
                offset = (offset + take) % text.Length;
            }
            batch.Add(Publish(channel, WireFormat.LogPart(new LogPart(1, number++, part.ToString(), false), "raw")));
            if (batch.Count == 256)
            {
                await Task.WhenAll(batch);
                batch.Clear();
            }
        }
        batch.Add(Publish(channel, WireFormat.LogPart(new LogPart(1, number, "", true), "raw")));
        await Task.WhenAll(batch);
        var bytes = await consumer.WaitForFinalAsync(1);
        return bytes / sw.Elapsed.TotalSeconds;
    }

    private static async Task<(double BytesPerSecond, long RssGrowth)> WorkerLogBytesPerSecondAsync(Uri uri)
    {
        var queueName = $"bench.log-{Guid.NewGuid():N}";
        var options = new WorkerOptions { ProcessorCount = 1, JobQueueName = queueName, MaxLog = LogBytes * 2, HardLimit = TimeSpan.FromMinutes(10), Teardown = TimeSpan.FromMinutes(2) };
        await using var queue = new AmqpJobQueue(new AmqpOptions { Uri = uri }, queueName, new JobCancellations(), NullLoggerFactory.Instance, "bench");
        await queue.StartAsync(CancellationToken.None);
        await using var consumer = await LogConsumer.StartAsync(uri);
        var payload = JobFile.Parse("script: [\"true\"]", queueName);
        await using (var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench log job"))
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await channel.BasicPublishAsync("", queueName, false, new BasicProperties { Persistent = true }, payload.ToUtf8Bytes());
        }
        var pipeline = new JobPipeline(options, new ChattyBackend(LogBytes), new BuiltinScriptGenerator(), new JobCancellations(),
            new MachineLabels("bench", "bench-host", TimeSpan.FromMinutes(10)), NullLogger<JobPipeline>.Instance);
        var processors = new ProcessorPool(queue, pipeline, 1, NullLogger<ProcessorPool>.Instance);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        var baseline = self.WorkingSet64;
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                self.Refresh();
                peak = Math.Max(peak, self.WorkingSet64);
                await Task.Delay(50, CancellationToken.None);
            }
        });
        var sw = Stopwatch.StartNew();
        var running = processors.RunAsync(CancellationToken.None);
        var bytes = await consumer.WaitForFinalAsync(payload.JobId);
        var elapsed = sw.Elapsed;
        await sampling.CancelAsync();
        await sampler;
        await processors.DrainAsync(TimeSpan.FromSeconds(30));
        await running;
        await DeleteQueueAsync(uri, queueName);
        if (bytes < LogBytes)
        {
            throw new InvalidOperationException($"only {bytes} of {LogBytes} log bytes arrived");
        }
        return (bytes / elapsed.TotalSeconds, peak - baseline);
    }

    /// <summary>A backend whose one job prints a fixed number of bytes as fast as the log takes them.</summary>
    private sealed class ChattyBackend(long bytes) : IBackend
    {
        public static readonly string Chunk = string.Concat(Enumerable.Range(0, 800).Select(i => $"{i:D6} the quick brown fox jumps over the lazy dog, building and testing\n"));

        public string Name => "chatty";

        public string ProbeDescription => "nothing: the chatty backend is always there";

        public Task ProbeAsync(CancellationToken ct) => Task.CompletedTask;

        public Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct) =>
            Task.FromResult<IInstance>(new Instance(bytes));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private sealed class Instance(long bytes) : IInstance
        {
            public string Id => "chatty-1";
            public string ImageName => "chatty";

            public Task UploadScriptAsync(string script, CancellationToken ct) => Task.CompletedTask;

            public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
            {
                for (long written = 0; written < bytes; written += Chunk.Length)
                {
                    await log.WriteAsync(Chunk, ct);
                }
                return RunResult.Exited(0);
            }

            public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    /// <summary>Reads log parts as travis-logs would, checks they come gapless and in order, and counts their bytes.</summary>
    private sealed class LogConsumer : IAsyncDisposable
    {
        private readonly IConnection _connection;
        private readonly IChannel _channel;
        private readonly Dictionary<long, (int Next, long Bytes)> _jobs = [];
        private readonly Dictionary<long, TaskCompletionSource<long>> _finals = [];

        private LogConsumer(IConnection connection, IChannel channel)
        {
            _connection = connection;
            _channel = channel;
        }

        public static async Task<LogConsumer> StartAsync(Uri uri)
        {
            var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench log consumer");
            var channel = await connection.CreateChannelAsync();
            await AmqpTopology.DeclareReportingAsync(channel, default);
            await RemoveDurableReportingQueuesAsync(channel);
            var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
            await channel.QueueBindAsync(queue.QueueName, AmqpNames.ReportingExchange, AmqpNames.LogRoutingKey);
            await channel.BasicQosAsync(0, 2000, false);
            var logConsumer = new LogConsumer(connection, channel);
            var consumer = new AsyncEventingBasicConsumer(channel);
            var received = 0;
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                var final = logConsumer.Take(delivery.Body.Span);
                if (++received % 100 == 0 || final)
                {
                    await channel.BasicAckAsync(delivery.DeliveryTag, multiple: true);
                }
            };
            await channel.BasicConsumeAsync(queue.QueueName, autoAck: false, consumer);
            return logConsumer;
        }

        public Task<long> WaitForFinalAsync(long jobId)
        {
            lock (_jobs)
            {
                return Final(jobId).Task.WaitAsync(TimeSpan.FromMinutes(10));
            }
        }

        private TaskCompletionSource<long> Final(long jobId)
        {
            if (!_finals.TryGetValue(jobId, out var final))
            {
                final = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                _finals[jobId] = final;
            }
            return final;
        }

        /// <summary>Records a part; true for a final one.</summary>
        private bool Take(ReadOnlySpan<byte> body)
        {
            long id = 0;
            var number = -1;
            long length = 0;
            var final = false;
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
                {
                    continue;
                }
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "id": id = reader.GetInt64(); break;
                    case "number": number = reader.GetInt32(); break;
                    case "final": final = reader.GetBoolean(); break;
                    case "log": length = reader.ValueIsEscaped ? Encoding.UTF8.GetByteCount(reader.GetString()!) : reader.ValueSpan.Length; break;
                }
            }
            lock (_jobs)
            {
                var (next, bytes) = _jobs.GetValueOrDefault(id);
                if (number != next)
                {
                    Final(id).TrySetException(new InvalidOperationException($"job {id}: log part {number} arrived when {next} was due"));
                    return false;
                }
                _jobs[id] = (next + 1, bytes + length);
                if (final)
                {
                    Final(id).TrySetResult(bytes + length);
                }
            }
            return final;
        }

        public async ValueTask DisposeAsync()
        {
            await _channel.CloseAsync();
            await _connection.DisposeAsync();
        }
    }

    // ---- the broker ----

    private static async Task RemoveDurableReportingQueuesAsync(IChannel channel)
    {
        await channel.QueueDeleteAsync(AmqpNames.StateRoutingKey, ifUnused: false, ifEmpty: false);
        await channel.QueueDeleteAsync(AmqpNames.LogRoutingKey, ifUnused: false, ifEmpty: false);
    }

    private static async Task DeleteQueueAsync(Uri uri, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench cleanup");
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
        await channel.QueueDeleteAsync(AmqpNames.DeadLetterQueue(queue), ifUnused: false, ifEmpty: false);
    }

    /// <summary>WORKER_BENCH_AMQP_URI, or Debian's rabbitmq-server started on loopback in a temporary folder.</summary>
    internal sealed class LocalBroker : IAsyncDisposable
    {
        private readonly Process? _process;
        private readonly string? _dir;

        private LocalBroker(Uri uri, Process? process, string? dir)
        {
            Uri = uri;
            _process = process;
            _dir = dir;
        }

        public Uri Uri { get; }

        public static async Task<LocalBroker> StartAsync()
        {
            if (Environment.GetEnvironmentVariable("WORKER_BENCH_AMQP_URI") is { Length: > 0 } given)
            {
                return new LocalBroker(new Uri(given), null, null);
            }
            var dir = Directory.CreateTempSubdirectory("bench-rabbitmq-").FullName;
            var port = FreePort();
            var start = new ProcessStartInfo("/usr/lib/rabbitmq/bin/rabbitmq-server") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["RABBITMQ_NODE_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["RABBITMQ_DIST_PORT"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["RABBITMQ_NODENAME"] = $"bench{port}@localhost";
            start.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
            start.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(dir, "mnesia");
            start.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(dir, "log");
            start.Environment["RABBITMQ_LOGS"] = "-";
            start.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(dir, "enabled_plugins");
            start.Environment["RABBITMQ_PID_FILE"] = Path.Combine(dir, "pid");
            var process = Process.Start(start)!;
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("Server startup complete", StringComparison.Ordinal) == true)
                {
                    ready.TrySetResult();
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return new LocalBroker(new Uri($"amqp://guest:guest@127.0.0.1:{port}/"), process, dir);
        }

        public async ValueTask DisposeAsync()
        {
            if (_process is not null)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
                _process.Dispose();
            }
            if (_dir is not null)
            {
                Directory.Delete(_dir, recursive: true);
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
