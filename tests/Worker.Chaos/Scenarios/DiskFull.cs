using System.Diagnostics;
using Worker.Core.Queues;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// WORKER_BASE_DIR on a small tmpfs that fills up: the file queue and the local backend live there,
/// jobs write large logs, and a filler file takes the last free byte; after a while it is removed.
/// Every job must end in 70-finished.d with a state, and the worker must serve on.
/// </summary>
internal sealed class DiskFull : IScenario
{
    public string Name => "BASE_DIR full (16 MiB tmpfs, file queue, local backend)";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? 12 : 40;
        var full = TimeSpan.FromSeconds(isShort ? 10 : 20);
        var baseDir = context.Folder("diskfull-" + Guid.NewGuid().ToString("N")[..6]);
        var logs = context.Folder("logs/diskfull");
        await Run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", baseDir);
        var clock = Stopwatch.StartNew();
        ChaosWorker? worker = null;
        try
        {
            const string Queue = "chaos";
            var created = Directory.CreateDirectory(Path.Combine(baseDir, Queue, FileJobQueue.Created)).FullName;
            var payloads = ChaosContext.Jobs(count, Queue, "yes a-line-of-log-output-to-fill-the-disk | head -n 2000");
            foreach (var payload in payloads)
            {
                await File.WriteAllBytesAsync(Path.Combine(created, FileJobQueue.FileName(payload.JobId)), payload.ToUtf8Bytes());
            }
            // All but 512 KiB taken: the first jobs' logs and build folders fill the rest while they run.
            var filler = Path.Combine(baseDir, "filler");
            Fill(filler, 512 << 10);
            worker = new ChaosWorker("host1", new Dictionary<string, string>
            {
                ["WORKER_QUEUE_TYPE"] = "file",
                ["WORKER_QUEUE_NAME"] = Queue,
                ["WORKER_PROVIDER_NAME"] = "local",
                ["WORKER_BASE_DIR"] = baseDir,
                ["WORKER_POOL_SIZE"] = "2",
                ["WORKER_FILE_POLLING_INTERVAL"] = "200ms",
                ["WORKER_HOSTNAME"] = "chaos-diskfull",
                ["WORKER_LOG_LEVEL"] = "information",
            }, logs);
            worker.Start();
            await Task.Delay(full);
            File.Delete(filler);
            var finished = Path.Combine(baseDir, Queue, FileJobQueue.Finished);
            int Done() => payloads.Count(p => File.Exists(Path.Combine(finished, $"{p.JobId}.state")));
            while (Done() < count && clock.Elapsed < full + TimeSpan.FromMinutes(isShort ? 2 : 4))
            {
                await Task.Delay(500);
            }
            var lost = count - Done();
            var failures = ChaosContext.Goal(lost);
            failures.AddRange(await ChaosContext.LivenessAsync([worker], TimeSpan.FromSeconds(30)));
            return new ScenarioResult($"{Name}, full {full.TotalSeconds:0} s", count, lost, 0, 0, clock.Elapsed, failures);
        }
        finally
        {
            if (worker is not null)
            {
                await worker.DisposeAsync();
            }
            await Run("umount", "-l", baseDir);
        }
    }

    /// <summary>Writes until the file system refuses another byte, then gives <paramref name="leave"/> bytes back.</summary>
    private static void Fill(string path, long leave)
    {
        var block = new byte[64 * 1024];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        try
        {
            while (true)
            {
                file.Write(block);
            }
        }
        catch (IOException)
        {
        }
        var last = new byte[1];
        try
        {
            while (true)
            {
                file.Write(last);
            }
        }
        catch (IOException)
        {
        }
        file.SetLength(Math.Max(0, file.Length - leave));
    }

    private static async Task Run(params string[] args)
    {
        var (exit, output) = await DockerLeftovers.RunAsync(args[0], args[1..], []);
        if (exit != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', args)}: {output}");
        }
    }
}
