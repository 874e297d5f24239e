using Worker.TestSupport;

namespace Worker.Tests.Telemetry;

/// <summary>WORKER_LOG_FILE: the worker's lines in a file too, rotated by size, keeping as many old files as WORKER_LOG_MAX_ROTATIONS.</summary>
public sealed class LogFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Log_file_rotates_at_its_size_and_keeps_the_newest_rotations()
    {
        var logs = Path.Combine(_dir.Path, "logs");
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["WORKER_PROVIDER_NAME"] = "fake",
            ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
            ["WORKER_LOG_FILE"] = Path.Combine(logs, "worker.log"),
            ["WORKER_LOG_ROTATE_SIZE"] = "1k",
            ["WORKER_LOG_MAX_ROTATIONS"] = "2",
        };
        // Each unknown variable is a warning line at start: about 8 kB of lines in all.
        for (var i = 0; i < 60; i++)
        {
            env[$"WORKER_NOT_A_SETTING_{i:D2}"] = "x";
        }
        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        await Eventually.TrueAsync(() => worker.Stderr.Contains("taking jobs", StringComparison.Ordinal), "the worker is up",
            gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        var files = Directory.GetFiles(logs).Order().ToList();
        Assert.Equal(3, files.Count); // the current file and 2 rotations; the older ones were deleted
        Assert.All(files, f => Assert.InRange(new FileInfo(f).Length, 1, 1024 + 256)); // a file ends with the line that reached the size
        Assert.All(files, f => Assert.Matches(@"worker_\d{3}\.log$", f));
        var current = File.ReadAllText(files[^1]);
        Assert.Contains("Worker stopped after 0 job(s)", current); // the last line the worker wrote, in the text format of stderr
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INF|WRN) ", current);
        // The older files were deleted with their lines: not all 60 warnings are left (their order is the environment's, which varies).
        var warningsKept = files.Sum(f => File.ReadAllLines(f).Count(l => l.Contains("WORKER_NOT_A_SETTING_", StringComparison.Ordinal)));
        Assert.InRange(warningsKept, 1, 59);
    }
}
