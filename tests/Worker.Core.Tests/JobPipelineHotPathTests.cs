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
}
