using System.Diagnostics;
using System.Globalization;
using System.Text;
using RabbitMQ.Client;

namespace Worker.Benchmarks;

/// <summary>
/// Start-up and footprint of <c>worker run</c> (AMQP queue, fake backend, pool 2): the median time
/// from the process start to its consumers registered on the broker (five starts, alternating), its
/// resident memory after 10 s idle, and the worker image's size. The worker measured against the
/// goals is the one the image ships (self-contained, ReadyToRun), copied out of the image
/// (<c>worker:local</c>, built by docker/build-worker-image.sh; WORKER_BENCH_IMAGE names another);
/// the build output run with <c>dotnet worker.dll</c> (compiled at start) is printed beside it.
/// Goals: under 500 ms, under 64 MB, under 300 MB.
/// </summary>
public static class StartupBenchmark
{
    private const int Starts = 5;
    private const int Pool = 2;

    public static async Task<int> RunAsync()
    {
        var image = Environment.GetEnvironmentVariable("WORKER_BENCH_IMAGE") is { Length: > 0 } i ? i : "worker:local";
        var imageBytes = await ImageSizeAsync(image);
        if (imageBytes is null)
        {
            Console.WriteLine($"image {image}: not on this host; build it with docker/build-worker-image.sh (goals: missed)");
            return 1;
        }
        var shipped = await CopyWorkerOutOfAsync(image);
        try
        {
            await using var broker = await AmqpThroughputBenchmark.LocalBroker.StartAsync();
            var shippedTimes = new List<double>();
            var devTimes = new List<double>();
            var dll = Path.Combine(AppContext.BaseDirectory, "worker.dll");
            for (var start = 0; start < Starts; start++)
            {
                shippedTimes.Add((await StartOnceAsync(broker.Uri, Path.Combine(shipped, "worker"), [], measureIdle: false)).Elapsed.TotalMilliseconds);
                devTimes.Add((await StartOnceAsync(broker.Uri, "dotnet", [dll], measureIdle: false)).Elapsed.TotalMilliseconds);
            }
            var (_, idleRss) = await StartOnceAsync(broker.Uri, Path.Combine(shipped, "worker"), [], measureIdle: true);
            var median = Median(shippedTimes);
            Console.WriteLine($"start-up, worker run to {Pool} consumers on the broker (the image's worker): median {median:F0} ms of {Starts} " +
                $"[{Join(shippedTimes)}] (goal < 500 ms: {Met(median < 500)})");
            Console.WriteLine($"  the same with dotnet worker.dll (build output, compiled at start): median {Median(devTimes):F0} ms [{Join(devTimes)}]");
            Console.WriteLine($"idle RSS after 10 s (the image's worker): {idleRss / (1 << 20)} MB (goal < 64 MB: {Met(idleRss < 64 << 20)})");
            Console.WriteLine($"image {image}: {imageBytes / 1e6:F0} MB (goal < 300 MB: {Met(imageBytes < 300_000_000)})");
            return median < 500 && idleRss < 64 << 20 && imageBytes < 300_000_000 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(shipped)!, recursive: true);
        }
    }

    private static string Met(bool met) => met ? "met" : "missed";

    private static string Join(IEnumerable<double> values) => string.Join(" ", values.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)));

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static async Task<(TimeSpan Elapsed, long IdleRss)> StartOnceAsync(Uri uri, string program, string[] args, bool measureIdle)
    {
        var queue = $"bench.startup-{Guid.NewGuid():N}";
        await using var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync("bench startup");
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        foreach (var arg in args.Append("run"))
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("WORKER_", StringComparison.Ordinal) || k.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["WORKER_QUEUE_TYPE"] = "amqp";
        start.Environment["WORKER_AMQP_URI"] = uri.ToString();
        start.Environment["WORKER_QUEUE_NAME"] = queue;
        start.Environment["WORKER_PROVIDER_NAME"] = "fake";
        start.Environment["WORKER_POOL_SIZE"] = Pool.ToString(CultureInfo.InvariantCulture);
        start.Environment["WORKER_LOG_LEVEL"] = "warning";
        var stderr = new StringBuilder();
        var sw = Stopwatch.StartNew();
        using var worker = Process.Start(start)!;
        worker.ErrorDataReceived += (_, e) => { lock (stderr) { stderr.AppendLine(e.Data); } };
        worker.OutputDataReceived += (_, _) => { };
        worker.BeginErrorReadLine();
        worker.BeginOutputReadLine();
        try
        {
            while ((await channel.QueueDeclarePassiveAsync(queue)).ConsumerCount < Pool)
            {
                if (worker.HasExited || sw.Elapsed > TimeSpan.FromSeconds(60))
                {
                    lock (stderr)
                    {
                        throw new InvalidOperationException($"worker run did not register its consumers: {stderr}");
                    }
                }
                await Task.Delay(2);
            }
            var elapsed = sw.Elapsed;
            long rss = 0;
            if (measureIdle)
            {
                await Task.Delay(TimeSpan.FromSeconds(10));
                rss = ResidentBytes(worker.Id);
            }
            using (var term = Process.Start("kill", ["-TERM", worker.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }
            await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return (elapsed, rss);
        }
        finally
        {
            if (!worker.HasExited)
            {
                worker.Kill(entireProcessTree: true);
            }
            await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
        }
    }

    /// <summary>VmRSS of a process, from /proc.</summary>
    internal static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>/opt/worker of the image, in a temporary folder; returns that copy's path.</summary>
    private static async Task<string> CopyWorkerOutOfAsync(string image)
    {
        var name = $"bench-startup-{Guid.NewGuid():N}"[..24];
        var dir = Directory.CreateTempSubdirectory("bench-worker-").FullName;
        await DockerAsync("create", "--name", name, image);
        try
        {
            await DockerAsync("cp", $"{name}:/opt/worker", dir);
        }
        finally
        {
            await DockerAsync("rm", name);
        }
        return Path.Combine(dir, "worker");
    }

    private static async Task<string> DockerAsync(params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo("docker", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? await output : throw new InvalidOperationException($"docker {string.Join(' ', args)}: {await error}");
    }

    private static async Task<long?> ImageSizeAsync(string image)
    {
        using var process = Process.Start(new ProcessStartInfo("docker", ["image", "inspect", "--format", "{{.Size}}", image])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 && long.TryParse(output.Trim(), CultureInfo.InvariantCulture, out var bytes) ? bytes : null;
    }
}
