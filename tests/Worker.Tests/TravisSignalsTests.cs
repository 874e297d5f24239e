using Microsoft.Extensions.Logging.Abstractions;
using Worker.Commands;
using Worker.Composition;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Queues;

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

    [Fact]
    public async Task Ttin_and_ttou_handled_on_many_threads_at_once_each_count()
    {
        // .NET hands each signal to a thread-pool thread, so two quick TTINs are handled at the same
        // time. In CI the second one read the size before the first had set it: two TTINs, one processor.
        using var context = WorkerContext.Create(SettingsSource.From(), NullLoggerFactory.Instance);
        var pool = context.CreatePool(new InMemoryJobQueue(), new FakeBackend(new FakeOptions()));
        using var signals = new TravisSignals(pool, "h", TimeSpan.FromSeconds(1), NullLogger.Instance);
        const int threads = 4, each = 249; // up to 997 processors, under the ceiling of 1000

        for (var round = 0; round < 20; round++)
        {
            await SignalFromEveryThreadAsync(() => signals.Resize(+1));
            Assert.Equal(1 + threads * each, pool.Size);
            await SignalFromEveryThreadAsync(() => signals.Resize(-1));
            Assert.Equal(1, pool.Size);
        }

        static Task SignalFromEveryThreadAsync(Action signal)
        {
            var start = new Barrier(threads);
            return Task.WhenAll(Enumerable.Range(0, threads).Select(_ => Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                for (var i = 0; i < each; i++)
                {
                    signal();
                }
            }, TaskCreationOptions.LongRunning)));
        }
    }
}
