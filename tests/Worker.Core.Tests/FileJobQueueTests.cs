using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends.Fake;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;

namespace Worker.Core.Tests;

public sealed class FileJobQueueTests : IDisposable
{
    private readonly string _baseDir = Path.Combine(Path.GetTempPath(), "worker-fileq-" + Guid.NewGuid().ToString("N"));
    private readonly JobCancellations _cancellations = new();

    public void Dispose()
    {
        if (Directory.Exists(_baseDir))
        {
            Directory.Delete(_baseDir, true);
        }
    }

    private FileJobQueue NewQueue() =>
        new(_baseDir, "builds.test", TimeSpan.FromMilliseconds(20), _cancellations, NullLogger.Instance);

    [Fact]
    public void Queue_creates_the_travis_folders()
    {
        var queue = NewQueue();
        foreach (var dir in new[] { "10-created.d", "30-received.d", "50-started.d", "70-finished.d", "log" })
        {
            Assert.True(Directory.Exists(Path.Combine(_baseDir, "builds.test", dir)), dir);
        }
        Assert.True(queue.IsConnected);
    }

    [Fact]
    public async Task Job_moves_through_the_folders_to_finished_with_its_log_and_state()
    {
        var queue = NewQueue();
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = "from the fake\n" });
        var payload = JobFile.Parse("id: 11\nscript: [\"true\"]", "builds.test");
        queue.Submit(payload);

        await foreach (var job in queue.ReceiveAsync(CancellationToken.None))
        {
            Assert.True(File.Exists(queue.PathOf(FileJobQueue.Received, "11.json")));
            await harness.Pipeline.RunAsync(job, new ProcessorStatus("t"), CancellationToken.None);
            break;
        }

        Assert.True(File.Exists(queue.PathOf(FileJobQueue.Finished, "11.json")));
        Assert.Equal("passed", File.ReadAllText(queue.PathOf(FileJobQueue.Finished, "11.state")).Trim());
        Assert.Contains("from the fake", File.ReadAllText(queue.PathOf(FileJobQueue.Logs, "11.log")));
        Assert.False(File.Exists(queue.PathOf(FileJobQueue.Created, "11.json")));
        Assert.False(File.Exists(queue.PathOf(FileJobQueue.Started, "11.json")));
    }

    [Fact]
    public async Task Unusable_job_file_is_dead_lettered_with_its_reason_and_the_next_one_is_served()
    {
        var queue = NewQueue();
        File.WriteAllText(queue.PathOf(FileJobQueue.Created, "1.json"), "{ not json");
        queue.Submit(JobFile.Parse("id: 2\nscript: [\"true\"]", "builds.test"));

        await foreach (var job in queue.ReceiveAsync(CancellationToken.None))
        {
            Assert.Equal(2, job.Spec.JobId);
            break;
        }
        Assert.True(File.Exists(queue.PathOf(FileJobQueue.Dead, "1.json")));
        Assert.Contains("payload is not JSON", File.ReadAllText(queue.PathOf(FileJobQueue.Dead, "1.json.error")));
    }

    [Fact]
    public async Task Requeued_job_returns_to_created_with_its_requeue_count()
    {
        var queue = NewQueue();
        var harness = PipelineHarness.WithFake(new FakeOptions { FailStart = true });
        queue.Submit(JobFile.Parse("id: 3\nscript: [\"true\"]", "builds.test"));
        await foreach (var job in queue.ReceiveAsync(CancellationToken.None))
        {
            await harness.Pipeline.RunAsync(job, new ProcessorStatus("t"), CancellationToken.None);
            break;
        }
        Assert.True(File.Exists(queue.PathOf(FileJobQueue.Created, "3.json")));
        await foreach (var job in queue.ReceiveAsync(CancellationToken.None))
        {
            Assert.Equal(1, job.RequeueCount);
            break;
        }
    }

    [Fact]
    public async Task Two_queues_on_one_folder_never_take_the_same_job()
    {
        var a = NewQueue();
        var b = NewQueue();
        for (var i = 1; i <= 40; i++)
        {
            a.Submit(JobFile.Parse($"id: {i}\nscript: [\"true\"]", "builds.test"));
        }
        var taken = new System.Collections.Concurrent.ConcurrentBag<long>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        async Task Drain(FileJobQueue q)
        {
            await foreach (var job in q.ReceiveAsync(cts.Token))
            {
                taken.Add(job.Spec.JobId);
                if (taken.Count >= 40)
                {
                    await cts.CancelAsync();
                }
            }
        }
        await Task.WhenAll(Drain(a), Drain(b));
        Assert.Equal(40, taken.Count);
        Assert.Equal(40, taken.Distinct().Count());
    }

    [Fact]
    public async Task Cancel_file_cancels_the_running_job()
    {
        var queue = NewQueue();
        var harness = new PipelineHarness(new FakeBackend(new FakeOptions { Run = TimeSpan.FromMinutes(5) }));
        var pipeline = new JobPipeline(harness.Options, harness.Backend, new Scripts.BuiltinScriptGenerator(), _cancellations,
            new Backends.MachineLabels("t", "h", TimeSpan.Zero), NullLogger<JobPipeline>.Instance);
        queue.Submit(JobFile.Parse("id: 21\nscript: [\"true\"]", "builds.test"));
        Verdict? verdict = null;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var consumer = Task.Run(async () =>
        {
            await foreach (var job in queue.ReceiveAsync(cts.Token))
            {
                verdict = await pipeline.RunAsync(job, new ProcessorStatus("t"), CancellationToken.None);
                break;
            }
        });
        await Eventually.TrueAsync(() => File.Exists(queue.PathOf(FileJobQueue.Started, "21.json")), "job 21 started");
        File.WriteAllText(queue.PathOf(FileJobQueue.Cancel, "21"), "user asked");
        // The queue applies cancel requests while it polls; a second consumer keeps it polling.
        var poller = Task.Run(async () =>
        {
            await foreach (var _ in queue.ReceiveAsync(cts.Token))
            {
            }
        });
        await consumer;
        await cts.CancelAsync();
        await poller;

        Assert.Equal(FinishState.Cancelled, verdict!.State);
        Assert.Equal("cancelled", File.ReadAllText(queue.PathOf(FileJobQueue.Finished, "21.state")).Trim());
        Assert.Contains("user asked", File.ReadAllText(queue.PathOf(FileJobQueue.Logs, "21.log")));
    }
}
