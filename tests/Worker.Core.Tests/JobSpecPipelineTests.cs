using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Jobs;
using Worker.Core.Logs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;

namespace Worker.Core.Tests;

/// <summary>Jobs that are not travis payloads: their own spec, backend, script, files and reporting.</summary>
public sealed class JobSpecPipelineTests
{
    private static JobSpec Spec(long id, string script, string? backend = null, IReadOnlyList<MachineFile>? files = null, IReadOnlyList<string>? secrets = null) => new()
    {
        JobId = id,
        Backend = backend,
        Machine = _ => new StartAttributes { JobId = id },
        Script = new FixedScript(new JobScript(script, files ?? [])),
        Secrets = secrets ?? [],
    };

    private static JobPipeline Pipeline(IBackend own, BackendCatalog? others = null, IReadOnlyList<IPayloadReader>? readers = null) =>
        new(PipelineHarness.TestOptions, own, new BuiltinScriptGenerator(), new JobCancellations(),
            new MachineLabels("test", "test-host", TimeSpan.FromMinutes(5)), NullLogger<JobPipeline>.Instance, backends: others, readers: readers);

    [Fact]
    public async Task A_job_that_names_another_backend_runs_there_and_ends_after_its_machine_is_gone()
    {
        var own = new FakeBackend(new FakeOptions());
        var other = new FakeBackend(new FakeOptions { Output = "on the other one\n" });
        await using var catalog = new BackendCatalog(new Dictionary<string, Func<IBackend>> { ["other"] = () => new Renamed("other", other) }, "TEST_BACKENDS");
        var liveAtEnd = -1;
        var job = new SpecJob(Spec(11, "echo hi", backend: "other")) { OnEnded = () => liveAtEnd = other.Live.Count };

        var verdict = await Pipeline(own, catalog).RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

        Assert.Equal(FinishState.Passed, verdict.State);
        Assert.Equal(0, own.Started);
        Assert.Equal(1, other.Started);
        Assert.Equal(0, liveAtEnd);
        Assert.Equal(["received", "started", "finished:passed", "ended"], job.Events);
        Assert.Contains("on the other one", job.Log);
        Assert.Contains("(via other)", job.Log);
    }

    [Fact]
    public async Task A_job_that_names_a_backend_the_worker_does_not_hold_is_refused_before_any_machine_and_still_ends()
    {
        var own = new FakeBackend(new FakeOptions());
        await using var catalog = new BackendCatalog(new Dictionary<string, Func<IBackend>>(), "TEST_BACKENDS");
        var job = new SpecJob(Spec(12, "echo hi", backend: "docker"), canRequeue: false);

        var verdict = await Pipeline(own, catalog).RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(0, own.Started);
        Assert.Equal(["received",
            "finished:errored:The job was refused by this worker's policy: this worker runs no jobs on backend 'docker' (TEST_BACKENDS allows none)",
            "ended"], job.Events);
    }

    [Fact]
    public async Task A_job_its_queue_cant_take_back_is_errored_with_the_reason_where_another_would_be_requeued()
    {
        var job = new SpecJob(Spec(13, "echo hi"), canRequeue: false);

        var verdict = await Pipeline(new FakeBackend(new FakeOptions { EndIncomplete = true })).RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

        Assert.False(verdict.Requeue);
        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(["received", "started", "finished:errored:The job could not be run: the machine stopped before the script finished", "ended"], job.Events);
    }

    [Fact]
    public async Task A_job_whose_machine_fails_to_start_still_ends_once()
    {
        var job = new SpecJob(Spec(14, "echo hi"), canRequeue: false);

        await Pipeline(new FakeBackend(new FakeOptions { FailStart = true })).RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

        Assert.Equal(["received", "finished:errored:The job could not be run: the fake machine failed to start", "ended"], job.Events);
    }

    [Fact]
    public async Task Files_go_into_the_machine_before_the_script_and_secrets_never_reach_the_log()
    {
        var source = Path.GetTempFileName();
        await File.WriteAllTextAsync(source, "agent binary");
        try
        {
            var backend = new FakeBackend(new FakeOptions { Output = "token s3cr3t-value here\n" });
            FakeBackend.FakeInstance? machine = null;
            var job = new SpecJob(Spec(15, "run the agent", files: [new MachineFile("/tmp/cirrus-ci/cirrus", source, UnixFileMode.UserRead | UnixFileMode.UserExecute)],
                secrets: ["s3cr3t-value"])) { OnEnded = () => { } };
            var pipeline = Pipeline(new Watching(backend, m => machine = m));

            await pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

            Assert.NotNull(machine);
            var (content, mode) = machine.Files["/tmp/cirrus-ci/cirrus"];
            Assert.Equal("agent binary", Encoding.UTF8.GetString(content));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserExecute, mode);
            Assert.Equal("run the agent", machine.Script);
            Assert.Contains("token [secure] here", job.Log);
            Assert.DoesNotContain("s3cr3t-value", job.Log);
        }
        finally
        {
            File.Delete(source);
        }
    }

    [Fact]
    public async Task Files_picked_by_the_guest_os_are_had_once_the_machine_is_up_and_one_that_cant_be_had_errors_the_job_and_its_machine_goes()
    {
        var backend = new FakeBackend(new FakeOptions());
        var liveWhenPicked = -1;
        string? asked = "unset";
        var script = new JobScript("run the agent")
        {
            FilesFor = (guestOs, _) =>
            {
                asked = guestOs;
                liveWhenPicked = backend.Live.Count;
                throw new ScriptGenerationException("the agent for that OS can't be had");
            },
        };
        var job = new SpecJob(Spec(16, "unused") with { Script = new FixedScript(script) }, canRequeue: false);

        var verdict = await Pipeline(backend).RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);

        Assert.Equal(1, liveWhenPicked);
        Assert.Null(asked); // the fake backend's machines don't say what OS they run
        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.Equal(["received", "finished:errored:The build script could not be generated: the agent for that OS can't be had", "ended"], job.Events);
        Assert.Empty(backend.Live);
    }

    [Fact]
    public async Task A_payload_reader_runs_the_spec_it_finds_and_a_payload_it_cant_use_is_dead_lettered()
    {
        var backend = new FakeBackend(new FakeOptions());
        var harness = new PipelineHarness(backend);
        FakeBackend.FakeInstance? machine = null;
        var pipeline = Pipeline(new Watching(backend, m => machine = m), readers: [new MarkedPayloadReader()]);
        var marked = harness.Queue.Enqueue(Payload(21, ",\"mark\":\"carried\""), 0);
        var broken = harness.Queue.Enqueue(Payload(22, ",\"mark\":\"broken\""), 0);
        var plain = harness.Queue.Enqueue(Payload(23, ""), 0);

        var jobs = new List<InMemoryJob>();
        await foreach (var job in harness.Queue.ReceiveAsync(CancellationToken.None))
        {
            jobs.Add((InMemoryJob)job);
            await pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);
            if (jobs.Count == 3)
            {
                break;
            }
        }

        Assert.Equal("passed", await marked.Outcome);
        Assert.Equal("dead-lettered", await broken.Outcome);
        Assert.Equal("the mark 'broken' is not one this reader knows", broken.DeadLetterReason?.Split(": ", 2)[1]);
        Assert.Equal("passed", await plain.Outcome);
        Assert.Contains("echo travis", machine!.Script); // the last one ran the travis script
    }

    private static JobPayload Payload(long id, string more) =>
        JobPayload.Parse("{\"job\":{\"id\":" + id + "},\"config\":{\"script\":[\"echo travis\"]" + more + "}}");

    /// <summary>Reads payloads with a config.mark: "carried" runs a fixed script, anything else is unusable.</summary>
    private sealed class MarkedPayloadReader : IPayloadReader
    {
        public JobSpec? Read(JobPayload payload) => JobPayload.Str(payload.Config["mark"]) switch
        {
            null => null,
            "carried" => Spec(payload.JobId, "echo carried"),
            var other => throw new InvalidJobPayloadException($"the mark '{other}' is not one this reader knows"),
        };
    }

    private sealed class FixedScript(JobScript script) : IJobScript
    {
        public Task<JobScript> GenerateAsync(IScriptGenerator generator, CancellationToken ct) => Task.FromResult(script);
    }

    private sealed class Renamed(string name, IBackend inner) : IBackend
    {
        public string Name => name;
        public string ProbeDescription => inner.ProbeDescription;
        public Task ProbeAsync(CancellationToken ct) => inner.ProbeAsync(ct);
        public Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct) => inner.StartAsync(attributes, progress, ct);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class Watching(FakeBackend inner, Action<FakeBackend.FakeInstance> started) : IBackend
    {
        public string Name => inner.Name;
        public string ProbeDescription => inner.ProbeDescription;
        public Task ProbeAsync(CancellationToken ct) => inner.ProbeAsync(ct);

        public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
        {
            var instance = await inner.StartAsync(attributes, progress, ct);
            started((FakeBackend.FakeInstance)instance);
            return instance;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
