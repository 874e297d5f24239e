using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;

namespace Worker.Benchmarks;

/// <summary>
/// Jobs per second through the whole pipeline (in-memory queue, fake backend, log batching and
/// masking) against the same work done by hand: generate the script, start, upload, run, stop.
/// The ratio is what the pipeline's bookkeeping costs.
/// </summary>
public static class PipelineOverheadBenchmark
{
    private const int Jobs = 5000;

    public static async Task<int> RunAsync()
    {
        var fake = new FakeOptions { Output = "hello from a benchmark job\n" };
        var options = new WorkerOptions { ProcessorCount = 8, FlushInterval = TimeSpan.FromMilliseconds(500) };
        var payloads = Enumerable.Range(1, Jobs).Select(i => JobFile.Parse($"id: {i}\nscript: [\"echo {i}\"]\nsecrets: {{ T: abc }}", "bench")).ToList();

        // Warm both paths up once.
        await Baseline(payloads.Take(200).ToList(), fake);
        await ThroughPool(payloads.Take(200).ToList(), fake, options);

        var baseline = await Baseline(payloads, fake);
        var worker = await ThroughPool(payloads, fake, options);
        Console.WriteLine($"baseline (direct calls): {baseline:F0} jobs/s");
        Console.WriteLine($"worker pipeline, pool 8: {worker:F0} jobs/s");
        Console.WriteLine($"ratio worker/baseline: {worker / baseline:F2}");
        return 0;
    }

    private static async Task<double> Baseline(IReadOnlyList<JobPayload> payloads, FakeOptions fake)
    {
        var backend = new FakeBackend(fake);
        var sw = Stopwatch.StartNew();
        var sink = new NullWriter();
        await Parallel.ForEachAsync(payloads, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (payload, ct) =>
        {
            var script = BuiltinScriptGenerator.Generate(payload);
            var instance = await backend.StartAsync(new StartAttributes { JobId = payload.JobId }, new Progress<string>(), ct);
            await instance.UploadScriptAsync(script, ct);
            await instance.RunScriptAsync(sink, ct);
            await instance.StopAsync(ct);
        });
        return payloads.Count / sw.Elapsed.TotalSeconds;
    }

    private static async Task<double> ThroughPool(IReadOnlyList<JobPayload> payloads, FakeOptions fake, WorkerOptions options)
    {
        var queue = new InMemoryJobQueue();
        var jobs = payloads.Select(p => queue.Enqueue(p)).ToList();
        queue.Complete();
        var pipeline = new JobPipeline(options, new FakeBackend(fake), new BuiltinScriptGenerator(), new JobCancellations(),
            new MachineLabels("bench", "bench-host", TimeSpan.FromMinutes(10)), NullLogger<JobPipeline>.Instance);
        var pool = new ProcessorPool(queue, pipeline, options.ProcessorCount, NullLogger<ProcessorPool>.Instance);
        var sw = Stopwatch.StartNew();
        var run = pool.RunAsync(CancellationToken.None);
        await Task.WhenAll(jobs.Select(j => j.Outcome));
        var elapsed = sw.Elapsed;
        await pool.DrainAsync(TimeSpan.FromSeconds(10));
        await run;
        return payloads.Count / elapsed.TotalSeconds;
    }

    private sealed class NullWriter : Worker.Core.Logs.IJobLogWriter
    {
        public ValueTask WriteAsync(string text, CancellationToken ct = default) => ValueTask.CompletedTask;
    }
}
