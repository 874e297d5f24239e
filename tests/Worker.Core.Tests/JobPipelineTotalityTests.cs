using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Scripts;
using Worker.TestSupport;

namespace Worker.Core.Tests;

/// <summary>Whatever fails, and however, a job ends in an outcome that is reported: nothing is left held.</summary>
public sealed class JobPipelineTotalityTests
{
    private const string Job = "script: [\"echo hi\"]";

    [Fact]
    public async Task An_exception_nobody_foresaw_in_a_step_becomes_an_outcome_with_its_message_in_the_log()
    {
        var harness = new PipelineHarness(new FailingBackend(() => new NullReferenceException("the backend tripped over a null")));

        var (job, verdict) = await harness.RunAsync(Job);

        Assert.True(verdict.Requeue);
        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("the backend tripped over a null", job.Log);
        Assert.True(job.Parts.Last().Final);
    }

    [Fact]
    public async Task A_payload_found_at_fault_inside_the_pipeline_is_dead_lettered_with_the_reason_and_no_machine_is_started()
    {
        var backend = new FakeBackend(new FakeOptions());
        var harness = new PipelineHarness(backend, scripts: new RefusingGenerator("config.script names a file that is not there"));

        var (job, verdict) = await harness.RunAsync(Job);

        Assert.True(verdict.DeadLetter);
        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal("dead-lettered", await job.Outcome);
        Assert.Contains("config.script names a file that is not there", job.DeadLetterReason);
        Assert.Equal(0, backend.Started);
    }

    [Fact]
    public async Task A_result_that_cannot_be_reported_does_not_escape_the_pipeline_and_the_machine_is_still_stopped()
    {
        var backend = new FakeBackend(new FakeOptions());
        var harness = new PipelineHarness(backend);
        var job = new ScriptedJob(JobFile.Parse(Job, "test")) { FailFinish = true };

        var verdict = await harness.Pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

        Assert.Equal(FinishState.Passed, verdict.State);
        Assert.Contains("finish attempted", job.Events);
        Assert.Empty(backend.Live);
    }

    [Fact]
    public async Task A_job_whose_log_cannot_be_opened_is_requeued_not_held()
    {
        var harness = new PipelineHarness(new FakeBackend(new FakeOptions()));
        var job = new ScriptedJob(JobFile.Parse(Job, "test")) { FailOpenLog = true };

        var verdict = await harness.Pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

        Assert.True(verdict.Requeue);
        Assert.Contains("requeued", job.Events);
    }

    [Fact]
    public async Task A_processor_settles_a_job_whose_run_threw_and_takes_the_next_one()
    {
        // A logging provider that throws is one failure the pipeline's own steps never see.
        var harness = new PipelineHarness(new FakeBackend(new FakeOptions()), logger: new ScopeThrowingLogger());
        var jobs = Enumerable.Range(0, 3).Select(_ => harness.Enqueue(Job)).ToList();
        var pool = new ProcessorPool(harness.Queue, harness.Pipeline, 1, NullLogger<ProcessorPool>.Instance);
        var run = pool.RunAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => jobs.All(j => j.Outcome.IsCompleted), "every job was settled");

        Assert.All(jobs, j => Assert.Equal("errored", j.Outcome.Result));
        await pool.DrainAsync(TimeSpan.FromSeconds(10));
        await run;
    }

    [Fact]
    public async Task Malformed_payloads_are_refused_where_they_are_read_and_every_other_one_runs_to_a_reported_end()
    {
        var harness = new PipelineHarness(new FakeBackend(new FakeOptions()));
        var refused = 0;
        var ran = 0;
        foreach (var body in MalformedPayloads.Generate(seed: 17, count: 300, largeFieldBytes: 1 << 20, largeEvery: 10))
        {
            JobPayload payload;
            try
            {
                payload = JobPayload.Parse(body.Bytes);
            }
            catch (InvalidJobPayloadException)
            {
                refused++;
                continue;
            }
            var job = harness.Queue.Enqueue(payload);
            await harness.RunNextAsync();
            for (var attempt = job; attempt.Requeued is { } again; attempt = again)
            {
                await harness.RunNextAsync(); // an infrastructure requeue runs again, to its own end
            }
            Assert.True(job.Outcome.IsCompleted, $"payload {body.Index} ({body.Mutation}) was not settled");
            ran++;
        }
        Assert.True(refused > 50, $"only {refused} of 300 payloads were refused: the mutations are too gentle");
        Assert.True(ran > 50, $"only {ran} of 300 payloads ran: the mutations are too harsh");
    }

    private sealed class FailingBackend(Func<Exception> failure) : IBackend
    {
        public string Name => "failing";

        public string ProbeDescription => "nothing";

        public Task ProbeAsync(CancellationToken ct) => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct) => throw failure();
    }

    private sealed class RefusingGenerator(string reason) : IScriptGenerator
    {
        public Task<string> GenerateAsync(JobPayload payload, CancellationToken ct) => throw new InvalidJobPayloadException(reason);
    }

    /// <summary>A logger whose scopes throw, as a broken logging provider would.</summary>
    private sealed class ScopeThrowingLogger : ILogger<JobPipeline>
    {
        public IDisposable BeginScope<TState>(TState state) where TState : notnull => throw new InvalidOperationException("the log scope is broken");
        public bool IsEnabled(LogLevel logLevel) => false;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}
