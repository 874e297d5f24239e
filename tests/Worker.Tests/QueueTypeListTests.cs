using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;
using Worker.Core.Queues;
using Worker.TestSupport;

namespace Worker.Tests;

/// <summary>travis-worker's comma list in QUEUE_TYPE: `worker run` takes jobs from every source listed.</summary>
public sealed class QueueTypeListTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task With_file_and_amqp_listed_file_jobs_run_while_the_unreachable_broker_is_retried_and_the_drain_is_clean()
    {
        var state = Path.Combine(_dir.Path, "state");
        var env = new Dictionary<string, string>
        {
            ["TRAVIS_WORKER_QUEUE_TYPE"] = "file,amqp",
            ["TRAVIS_WORKER_AMQP_URI"] = $"amqp://127.0.0.1:{LoopbackPorts.Free()}",
            ["TRAVIS_WORKER_QUEUE_NAME"] = "builds.test",
            ["TRAVIS_WORKER_BASE_DIR"] = state,
            ["TRAVIS_WORKER_PROVIDER_NAME"] = "local",
            ["TRAVIS_WORKER_FILE_POLLING_INTERVAL"] = "100ms",
        };
        await using var queue = new FileJobQueue(state, "builds.test", TimeSpan.FromSeconds(1), new JobCancellations(), NullLogger.Instance);
        queue.Submit(JobFile.Parse("id: 401\nscript: [\"echo from the file queue\"]", "builds.test"));

        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        var finished = Path.Combine(state, "builds.test", "70-finished.d", "401.state");
        await worker.UntilAsync(() => File.Exists(finished), "job 401 finished");
        worker.Signal("TERM");

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("passed", File.ReadAllText(finished).Trim());
        Assert.Contains("taking jobs from file,amqp queue builds.test", worker.Stderr);
        Assert.Contains("Still retrying to connect to RabbitMQ", worker.Stderr);
    }
}
