using Worker.Core.Backends;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Logs;

namespace Worker.Core.Tests;

/// <summary>
/// A log that stops taking output (found by the chaos suite: BASE_DIR full under the file queue)
/// ends the local script with that failure, instead of leaving it blocked on a pipe no one reads
/// until its timeout.
/// </summary>
public sealed class LocalLogFailureTests : IDisposable
{
    private readonly string _baseDir = Path.Combine(Path.GetTempPath(), "worker-local-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_baseDir))
        {
            Directory.Delete(_baseDir, true);
        }
    }

    [Fact]
    public async Task A_script_whose_log_fails_is_killed_and_the_failure_thrown()
    {
        var backend = new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, new LocalOptions());
        var instance = (LocalInstance)await backend.StartAsync(new StartAttributes { JobId = 1 }, new Progress<string>(), CancellationToken.None);
        // Far more than a pipe holds: the script must be read to the end, or killed.
        await instance.UploadScriptAsync("yes a-line-of-log-output | head -n 2000000", CancellationToken.None);

        var run = instance.RunScriptAsync(new FullDiskLog(), CancellationToken.None);

        var failure = await Assert.ThrowsAsync<IOException>(() => Eventually.CompletesAsync(run, "the script ended"));
        Assert.Contains("No space left", failure.Message);
        await instance.StopAsync(CancellationToken.None);
    }

    /// <summary>Takes the first write, then fails every one as a full disk does.</summary>
    private sealed class FullDiskLog : IJobLogWriter
    {
        private int _writes;

        public ValueTask WriteAsync(string text, CancellationToken ct = default) =>
            Interlocked.Increment(ref _writes) == 1 ? ValueTask.CompletedTask : throw new IOException("No space left on device");
    }
}
