using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;
using Worker.Docker;

namespace Worker.Benchmarks;

/// <summary>
/// Median wall time from submit to finished state of a <c>true</c> job through the worker (pool,
/// pipeline, Docker backend) against <c>docker run --rm IMAGE true</c> with the Docker CLI, in the
/// same run, interleaved so both see the same engine. Goals: at most 1.2x without standby, below
/// 1.0x with one standby container. The worker reports the result before it removes the container
/// (the CLI's time includes the removal), so the full cycle to the removal is printed beside it,
/// with its own goal: at most 1.0x;
/// each measurement waits, unmeasured, for the previous container to be gone.
/// </summary>
public static class DockerStartBenchmark
{
    private const int Rounds = 21;

    public static async Task<int> RunAsync()
    {
        var image = Environment.GetEnvironmentVariable("WORKER_TEST_IMAGE") is { Length: > 0 } i ? i : "worker-job-base:bookworm";
        var endpoint = new Uri(Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } h ? h : DockerOptions.LocalSocket);
        var options = new DockerOptions { EndpointUri = endpoint, DefaultImage = image, PullPolicy = Worker.Core.Images.ImagePullPolicy.Never };
        await using var cold = new WorkerUnderTest(options);
        await using var warm = new WorkerUnderTest(options with { StandbyCount = 1 });

        // Warm-up: first runs pay for caches, JIT and the engine's first container.
        await DockerRunAsync(image);
        await cold.RunJobAsync();
        await warm.RunJobAsync();

        var cli = new List<double>();
        var withoutStandby = new List<double>();
        var withoutStandbyCycle = new List<double>();
        var withStandby = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            cli.Add(await DockerRunAsync(image));
            var (finished, removed) = await cold.RunJobAsync();
            withoutStandby.Add(finished);
            withoutStandbyCycle.Add(removed);
            withStandby.Add((await warm.RunJobAsync()).Finished);
        }
        var baseline = Median(cli);
        var coldRatio = Median(withoutStandby) / baseline;
        var warmRatio = Median(withStandby) / baseline;
        Console.WriteLine($"docker run --rm {image} true:      median {baseline:F0} ms ({Rounds} runs)");
        Console.WriteLine($"worker, docker backend, no standby: median {Median(withoutStandby):F0} ms");
        var cycleRatio = Median(withoutStandbyCycle) / baseline;
        Console.WriteLine($"  ... to its container removed:      median {Median(withoutStandbyCycle):F0} ms (ratio {cycleRatio:F2}; goal <= 1.00: {(cycleRatio <= 1.0 ? "met" : "missed")})");
        Console.WriteLine($"worker, docker backend, 1 standby:  median {Median(withStandby):F0} ms");
        Console.WriteLine($"ratio without standby: {coldRatio:F2} (goal <= 1.20: {(coldRatio <= 1.2 ? "met" : "missed")})");
        Console.WriteLine($"ratio with standby:    {warmRatio:F2} (goal <  1.00: {(warmRatio < 1.0 ? "met" : "missed")})");
        return 0;
    }

    private static async Task<double> DockerRunAsync(string image)
    {
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(new ProcessStartInfo("docker", ["run", "--rm", image, "true"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var elapsed = sw.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"docker run failed: {await error}");
        }
        return elapsed;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>A worker with one processor on an in-memory queue and the Docker backend.</summary>
    private sealed class WorkerUnderTest : IAsyncDisposable
    {
        private readonly InMemoryJobQueue _queue = new();
        private readonly DockerBackend _backend;
        private readonly ProcessorPool _pool;
        private readonly Task _running;
        private long _nextId = 1;

        public WorkerUnderTest(DockerOptions options)
        {
            var worker = new WorkerOptions();
            var labels = new MachineLabels("bench-" + Guid.NewGuid().ToString("N")[..8], "bench-host", TimeSpan.FromMinutes(10));
            _backend = new DockerBackend(DockerRegistration.CreateClient(options.EndpointUri), options, labels, NullLogger<DockerBackend>.Instance, ownsClient: true);
            var pipeline = new JobPipeline(worker, _backend, new BuiltinScriptGenerator(), new JobCancellations(), labels, NullLogger<JobPipeline>.Instance);
            _pool = new ProcessorPool(_queue, pipeline, 1, NullLogger<ProcessorPool>.Instance);
            _running = _pool.RunAsync(CancellationToken.None);
        }

        /// <summary>
        /// Milliseconds from submit to the finished state, and to the processor being done with the
        /// job (its container removed); the standby (if any) is ready before and refilled after, unmeasured.
        /// </summary>
        public async Task<(double Finished, double Removed)> RunJobAsync()
        {
            if (_backend.Standby is { } standby)
            {
                await standby.FillAsync(CancellationToken.None);
            }
            var payload = JobFile.Parse($"id: {_nextId++}\nscript: [\"true\"]", "bench");
            var sw = Stopwatch.StartNew();
            var job = _queue.Enqueue(payload);
            var outcome = await job.Outcome;
            var elapsed = sw.Elapsed.TotalMilliseconds;
            if (outcome != "passed")
            {
                throw new InvalidOperationException($"benchmark job {outcome}: {job.Log}");
            }
            var processed = _nextId - 1;
            while (_pool.Statuses.Sum(s => s.Processed) < processed)
            {
                await Task.Delay(1);
            }
            var removed = sw.Elapsed.TotalMilliseconds;
            if (_backend.Standby is { } refill)
            {
                // The replacement standby starts behind the job; it must not run during the next measurements.
                await refill.FillAsync(CancellationToken.None);
            }
            return (elapsed, removed);
        }

        public async ValueTask DisposeAsync()
        {
            _queue.Complete();
            await _pool.DrainAsync(TimeSpan.FromSeconds(30));
            await _running;
            await _backend.DisposeAsync();
        }
    }
}
