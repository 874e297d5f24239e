using Worker.Core.Backends.Fake;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

public sealed class JobPipelineOutcomeTests
{
    private const string Job = "script: [\"echo hi\"]";

    [Fact]
    public async Task Job_that_exits_0_is_passed_and_reports_each_transition_once_in_order()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = "hello\n" });
        var (job, verdict) = await harness.RunAsync(Job);

        Assert.Equal(FinishState.Passed, verdict.State);
        Assert.Equal(0, verdict.ExitCode);
        var events = job.Events.ToList();
        Assert.Equal("received", events[0]);
        Assert.Equal("log-opened", events[1]);
        Assert.StartsWith("started:fake-", events[2]);
        Assert.Equal("finished:passed", events[3]);
        Assert.Equal(4, events.Count);
        Assert.Contains("hello", job.Log);
        Assert.Contains("worker_info", job.Log);
        Assert.Empty(((FakeBackend)harness.Backend).Live);
    }

    [Fact]
    public async Task Job_that_exits_1_is_failed_and_not_requeued()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Exit = 1 });
        var (job, verdict) = await harness.RunAsync(Job);

        Assert.Equal(FinishState.Failed, verdict.State);
        Assert.False(verdict.Requeue);
        Assert.Equal(1, verdict.ExitCode);
        Assert.Contains("finished:failed", job.Events);
    }

    [Fact]
    public async Task Job_that_exits_with_another_code_is_errored_with_that_exit_code()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Exit = 3 });
        var (job, verdict) = await harness.RunAsync(Job);

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(3, verdict.ExitCode);
        Assert.Contains("exited with code 3", job.Log);
    }

    [Fact]
    public async Task Job_without_a_script_is_errored_without_starting_a_machine()
    {
        var backend = new FakeBackend(new FakeOptions());
        var harness = new PipelineHarness(backend);
        var (job, verdict) = await harness.RunAsync("env: { A: b }");

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(0, backend.Started);
        Assert.Contains("finished:errored", job.Events);
        Assert.Contains("has no script", job.Log);
    }

    [Fact]
    public async Task Job_that_runs_past_its_hard_limit_is_errored_with_exit_code_124()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Run = TimeSpan.FromHours(1) });
        var (job, verdict) = await Eventually.CompletesAsync(harness.RunAsync(Job + "\ntimeout: 1s"), "the hard limit ended the hour-long run");

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(124, verdict.ExitCode);
        Assert.Contains("maximum time limit", job.Log);
        Assert.Empty(((FakeBackend)harness.Backend).Live);
    }

    [Fact]
    public async Task Job_that_prints_nothing_fails_after_the_silence_timeout_not_the_hard_limit()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = "", Run = TimeSpan.FromMinutes(5) });
        var (job, verdict) = await harness.RunAsync(Job + "\nlog_silence: 1s\ntimeout: 60s");

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(124, verdict.ExitCode);
        Assert.Contains("No output has been received in the last 1s", job.Log);
    }

    [Fact]
    public async Task Job_whose_log_passes_the_maximum_length_is_errored_and_stopped()
    {
        var options = new WorkerOptions { MaxLog = 1000, FlushInterval = TimeSpan.FromMilliseconds(50), HardLimit = TimeSpan.FromSeconds(30) };
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = new string('x', 2000), Run = TimeSpan.FromMinutes(5) }, options);
        var (job, verdict) = await harness.RunAsync(Job);

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Contains("maximum log length (1000 bytes)", job.Log);
        Assert.DoesNotContain(new string('x', 2000), job.Log);
    }

    [Fact]
    public async Task Job_cancelled_while_it_runs_is_cancelled_with_the_reason_in_its_log()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Run = TimeSpan.FromMinutes(5) });
        var queued = harness.Enqueue(Job);
        var run = harness.RunNextAsync();
        await Eventually.TrueAsync(() => harness.Cancellations.IsRunning(queued.Payload.JobId) && queued.Events.Any(e => e.StartsWith("started", StringComparison.Ordinal)),
            "the job runs");
        Assert.True(harness.Cancellations.Cancel(queued.Payload.JobId, "cancelled by a test"));
        var (job, verdict) = await run;

        Assert.Equal(FinishState.Cancelled, verdict.State);
        Assert.Equal(130, verdict.ExitCode);
        Assert.Contains("cancelled by a test", job.Log);
        Assert.Empty(((FakeBackend)harness.Backend).Live);
    }

    [Fact]
    public async Task Job_whose_machine_fails_to_start_is_requeued_and_counted()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { FailStart = true });
        var (job, verdict) = await harness.RunAsync(Job);

        Assert.True(verdict.Requeue);
        Assert.True(verdict.RequeueCounted);
        Assert.Contains("requeued", job.Events);
        Assert.Equal(1, job.Requeued!.RequeueCount);
        Assert.DoesNotContain(job.Events, e => e.StartsWith("finished", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Job_whose_run_is_incomplete_is_requeued()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { EndIncomplete = true });
        var (job, verdict) = await harness.RunAsync(Job);

        Assert.True(verdict.Requeue);
        Assert.Contains("requeued", job.Events);
    }

    [Fact]
    public async Task Job_requeued_as_often_as_allowed_is_errored_with_a_message_saying_why()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { FailStart = true });
        var (job, verdict) = await harness.RunAsync(Job, requeueCount: harness.Options.Requeues);

        Assert.False(verdict.Requeue);
        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Contains("WORKER_MAX_REQUEUES=2", job.Log);
        Assert.Contains("finished:errored", job.Events);
    }

    [Fact]
    public async Task Job_that_fails_to_start_twice_then_starts_passes_on_the_third_attempt()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { FailFirstStarts = 2 });
        harness.Enqueue(Job);
        var verdicts = new List<Verdict>();
        for (var i = 0; i < 3; i++)
        {
            verdicts.Add((await harness.RunNextAsync()).Verdict);
        }

        Assert.True(verdicts[0].Requeue);
        Assert.True(verdicts[1].Requeue);
        Assert.Equal(FinishState.Passed, verdicts[2].State);
    }

    [Fact]
    public async Task Job_running_when_the_worker_stops_is_requeued_without_counting()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Run = TimeSpan.FromMinutes(5) });
        var queued = harness.Enqueue(Job);
        using var stop = new CancellationTokenSource();
        var run = harness.RunNextAsync(stop.Token);
        await Eventually.TrueAsync(() => queued.Events.Any(e => e.StartsWith("started", StringComparison.Ordinal)), "the job started");
        await stop.CancelAsync();
        var (job, verdict) = await run;

        Assert.True(verdict.Requeue);
        Assert.False(verdict.RequeueCounted);
        Assert.Equal(0, job.Requeued!.RequeueCount);
        Assert.Empty(((FakeBackend)harness.Backend).Live);
    }

    [Fact]
    public async Task Job_refused_by_the_backend_policy_is_errored_naming_the_rule()
    {
        var worker = new WorkerOptions { BaseDirectory = Path.Combine(Path.GetTempPath(), "worker-tests-" + Guid.NewGuid().ToString("N")) };
        var harness = new PipelineHarness(new LocalBackend(worker, new LocalOptions()));
        var (job, verdict) = await harness.RunAsync(Job + "\nprivileged: true");

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Contains("refused by this worker's policy: the local backend does not run privileged jobs", job.Log);
    }

    [Fact]
    public async Task Secrets_never_reach_the_log_even_when_printed()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = "token=s3cr3t-value and again s3cr3t-value\n" });
        var (job, _) = await harness.RunAsync(Job + "\nsecrets: { TOKEN: s3cr3t-value }");

        Assert.DoesNotContain("s3cr3t-value", job.Log);
        Assert.Contains("token=[secure] and again [secure]", job.Log);
    }

    [Fact]
    public async Task Log_parts_are_numbered_from_zero_without_gaps_and_only_the_last_is_final()
    {
        var options = new WorkerOptions { PartSize = 100, FlushInterval = TimeSpan.FromMilliseconds(20) };
        var harness = PipelineHarness.WithFake(new FakeOptions { Output = new string('a', 1050) }, options);
        var (job, _) = await harness.RunAsync(Job);

        var parts = job.Parts.ToList();
        Assert.Equal(Enumerable.Range(0, parts.Count), parts.Select(p => p.Number));
        Assert.True(parts[^1].Final);
        Assert.All(parts[..^1], p => Assert.False(p.Final));
        Assert.All(parts, p => Assert.True(p.Content.Length <= 100));
    }
}
