using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Logs;

namespace Worker.Core.Tests;

/// <summary>What a backend's classified failure makes of a job: a host failure is not the job's fault.</summary>
public sealed class HostFailureOutcomeTests
{
    private const string Job = "script: [\"echo hi\"]";

    [Fact]
    public async Task Job_whose_host_can_not_reach_its_backend_is_requeued_without_counting_and_the_log_names_what_is_broken()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { HostDown = true });

        var (job, verdict) = await harness.RunAsync(Job, requeueCount: 2); // as many counted requeues as allowed already

        Assert.True(verdict.Requeue);
        Assert.False(verdict.RequeueCounted);
        Assert.Equal(HostSignal.Broken, verdict.Host);
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.Equal(2, job.Requeued!.RequeueCount);
        Assert.Contains("the fake backend is down", job.Log);
        Assert.Contains("restarted on another host", job.Log);
    }

    [Fact]
    public async Task On_a_single_host_a_host_failure_errors_the_job_at_once_with_exit_code_125()
    {
        var options = new PipelineHarness(new FakeBackend(new FakeOptions())).Options with { SingleHost = true };
        var harness = PipelineHarness.WithFake(new FakeOptions { HostDown = true }, options);

        var (job, verdict) = await harness.RunAsync(Job);

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(OutcomePolicy.WorkerErrorExitCode, verdict.ExitCode);
        Assert.Contains("This host can't run jobs now: the fake backend is down", job.Log);
    }

    [Fact]
    public async Task Host_failure_while_the_script_runs_counts_because_the_script_may_have_caused_it()
    {
        var harness = new PipelineHarness(new FailingBackend(new FakeBackend(new FakeOptions()), failRun: BackendFailureException.Host("the engine went away")));

        var (job, verdict) = await harness.RunAsync(Job, requeueCount: 2);

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(HostSignal.Broken, verdict.Host);
        Assert.Contains("could not be run after 3 attempts", job.Log);
        Assert.Contains("the engine went away", job.Log);
    }

    [Fact]
    public async Task Job_level_failure_errors_the_job_without_a_requeue()
    {
        var harness = new PipelineHarness(new FailingBackend(new FakeBackend(new FakeOptions()), failStart: BackendFailureException.Job("the spec asks for a GPU this backend has not got")));

        var (job, verdict) = await harness.RunAsync(Job);

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(HostSignal.None, verdict.Host);
        Assert.Contains("the spec asks for a GPU", job.Log);
    }

    [Fact]
    public async Task A_machine_that_refuses_the_script_itself_errors_the_job_without_a_requeue_saying_why()
    {
        var harness = new PipelineHarness(new FailingBackend(new FakeBackend(new FakeOptions()), failRun: new JobRefusedException("image 'alpine' has no bash, which runs the job's script")));

        var (job, verdict) = await harness.RunAsync(Job);

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.False(verdict.Requeue, "the image is the same on every host");
        Assert.Equal(HostSignal.None, verdict.Host);
        Assert.Contains("image 'alpine' has no bash", job.Log);
    }

    [Fact]
    public async Task Capacity_failure_is_requeued_and_counted_as_before()
    {
        var harness = new PipelineHarness(new FailingBackend(new FakeBackend(new FakeOptions()), failStart: BackendFailureException.Capacity("zone full")));

        var (job, verdict) = await harness.RunAsync(Job);

        Assert.True(verdict.Requeue);
        Assert.True(verdict.RequeueCounted);
        Assert.Equal(HostSignal.None, verdict.Host);
        Assert.Contains("requeued", job.Events);
    }

    [Fact]
    public async Task Job_whose_script_ran_tells_the_host_its_backend_works()
    {
        var harness = PipelineHarness.WithFake(new FakeOptions { Exit = 1 });

        var (_, verdict) = await harness.RunAsync(Job);

        Assert.Equal(HostSignal.Working, verdict.Host);
    }

    [Fact]
    public async Task Local_backend_whose_build_root_can_not_be_written_fails_as_a_host_failure_naming_the_root()
    {
        var file = Path.GetTempFileName(); // a file where the build root's parent should be a directory
        try
        {
            var root = Path.Combine(file, "builds");
            var backend = new LocalBackend(new WorkerOptions(), new LocalOptions { WorkDirectory = root });

            var start = await Assert.ThrowsAsync<BackendFailureException>(() => backend.StartAsync(new StartAttributes { JobId = 1 }, new Progress<string>(), CancellationToken.None));
            var probe = await Assert.ThrowsAsync<BackendFailureException>(() => backend.ProbeAsync(CancellationToken.None));

            Assert.Equal(FailureKind.Host, start.Kind);
            Assert.Contains($"can't write to the build root {root}", start.Message);
            Assert.Contains("WORKER_LOCAL_WORK_DIR", start.Message);
            Assert.Equal(FailureKind.Host, probe.Kind);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Local_backend_probe_passes_on_a_writable_build_root_and_leaves_nothing_behind()
    {
        var root = Directory.CreateTempSubdirectory("worker-probe-").FullName;
        try
        {
            var backend = new LocalBackend(new WorkerOptions(), new LocalOptions { WorkDirectory = root });

            await backend.ProbeAsync(CancellationToken.None);

            Assert.Empty(Directory.EnumerateFileSystemEntries(root));
            Assert.Contains(root, backend.ProbeDescription);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A working backend whose start or run fails with a given classified failure.</summary>
    private sealed class FailingBackend(FakeBackend inner, BackendFailureException? failStart = null, Exception? failRun = null) : IBackend
    {
        public string Name => inner.Name;

        public string ProbeDescription => inner.ProbeDescription;

        public Task ProbeAsync(CancellationToken ct) => inner.ProbeAsync(ct);

        public ValueTask DisposeAsync() => inner.DisposeAsync();

        public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
        {
            if (failStart is not null)
            {
                throw failStart;
            }
            return new FailingRun(await inner.StartAsync(attributes, progress, ct), failRun);
        }

        private sealed class FailingRun(IInstance inner, Exception? failRun) : IInstance
        {
            public string Id => inner.Id;
            public string ImageName => inner.ImageName;
            public Task UploadScriptAsync(string script, CancellationToken ct) => inner.UploadScriptAsync(script, ct);
            public Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct) => failRun is null ? inner.RunScriptAsync(log, ct) : Task.FromException<RunResult>(failRun);
            public Task StopAsync(CancellationToken ct) => inner.StopAsync(ct);
            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
