namespace Worker.Tests;

/// <summary>travis-worker's run-time signals on `worker run` (the real process): TTIN/TTOU resize, USR1 logs the status, USR2 pauses, a second drains and exits.</summary>
public sealed class TravisSignalsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Ttin_and_ttou_resize_the_pool_usr1_logs_its_status_usr2_pauses_and_a_second_usr2_drains_and_exits_0()
    {
        await using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["WORKER_PROVIDER_NAME"] = "fake",
            ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
        }, _dir.Path, "run");
        await worker.UntilAsync(() => worker.Stderr.Contains("taking jobs from", StringComparison.Ordinal), "the worker took jobs");

        worker.Signal("TTIN");
        await worker.UntilAsync(() => worker.Stderr.Contains("SIGTTIN: pool size 2", StringComparison.Ordinal), "one processor more");
        worker.Signal("TTIN");
        await worker.UntilAsync(() => worker.Stderr.Contains("SIGTTIN: pool size 3", StringComparison.Ordinal), "two processors more");
        worker.Signal("TTOU");
        await worker.UntilAsync(() => worker.Stderr.Contains("SIGTTOU: pool size 2", StringComparison.Ordinal), "one processor less");
        worker.Signal("USR1");
        await worker.UntilAsync(() => worker.Stderr.Contains("SIGUSR1: {", StringComparison.Ordinal), "the status logged");
        Assert.Contains("\"PoolSize\":2", worker.Stderr);

        worker.Signal("USR2");
        await worker.UntilAsync(() => worker.Stderr.Contains("SIGUSR2: paused", StringComparison.Ordinal), "the pool paused");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(worker.HasExited, "a paused worker stays up");
        worker.Signal("USR2");

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("SIGUSR2 again: draining", worker.Stderr);
    }
}
