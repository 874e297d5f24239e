using System.Runtime.ExceptionServices;
using Worker.Core.Backends.Fake;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>
/// What every job pays: an exception thrown and caught on the way costs tens of microseconds, which
/// one processor pays in series with every broker round trip. A job that passes throws none.
/// </summary>
public sealed class JobPipelineHotPathTests
{
    // Set in the test's flow only: tasks the job starts inherit it, other tests' don't.
    private static readonly AsyncLocal<bool> InThisJob = new();

    [Fact]
    public async Task A_passing_job_throws_no_exception_on_its_way_through_the_pipeline()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = "hello\n" });
        var thrown = new List<string>();
        void Record(object? sender, FirstChanceExceptionEventArgs e)
        {
            if (InThisJob.Value)
            {
                lock (thrown)
                {
                    thrown.Add($"{e.Exception.GetType().Name}: {e.Exception.Message}");
                }
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Record;
        try
        {
            InThisJob.Value = true;
            var (_, verdict) = await harness.RunAsync("script: [\"echo hi\"]");
            InThisJob.Value = false;
            Assert.Equal(FinishState.Passed, verdict.State);
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Record;
        }

        Assert.Empty(thrown);
    }

    [Fact]
    public async Task A_job_whose_steps_all_finish_at_once_goes_through_the_pipeline_without_leaving_the_thread()
    {
        // Every step of this job completes synchronously (the fake machine, the in-memory queue),
        // so a pipeline that hands its work to no other thread has finished when RunAsync returns.
        // Ending the silence watch by cancelling a waiting loop queued the job's teardown to the
        // thread pool: on a busy host, a wait for a free thread on every job's path. No timer may
        // come due meanwhile (a timed log flush holds the log for a moment, rightly).
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = "hello\n" }, PipelineHarness.TestOptions with { FlushInterval = TimeSpan.FromHours(1) });
        var job = harness.Enqueue("script: [\"echo hi\"]");

        // On the thread pool, as a worker's processors run jobs: under xunit's synchronization
        // context the log's flusher would end by a post to that context, not on this thread.
        var (finishedAtOnce, verdict) = await Task.Run(async () =>
        {
            var run = harness.Pipeline.RunAsync(job, new Pipeline.ProcessorStatus("test"), CancellationToken.None);
            return (run.IsCompleted, await run);
        });

        Assert.True(finishedAtOnce, "the pipeline handed part of the job to another thread");
        Assert.Equal(FinishState.Passed, verdict.State);
    }
}
