using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;

namespace Worker.Core.Tests;

/// <summary>A pipeline over an in-memory queue, with short timeouts suited to tests.</summary>
internal sealed class PipelineHarness
{
    /// <param name="breaker">Gives the pipeline a host circuit breaker with these settings, as <c>worker run</c> has.</param>
    public PipelineHarness(IBackend backend, WorkerOptions? options = null, HostBreakerOptions? breaker = null, IScriptGenerator? scripts = null,
        TimeProvider? clock = null, ILogger<JobPipeline>? logger = null)
    {
        Backend = backend;
        Options = options ?? TestOptions;
        Breaker = breaker is null ? null : new HostCircuitBreaker(backend, breaker, NullLogger<HostCircuitBreaker>.Instance);
        Pipeline = new JobPipeline(Options, backend, scripts ?? new BuiltinScriptGenerator(), Cancellations,
            new MachineLabels("test", "test-host", TimeSpan.FromMinutes(5)), logger ?? NullLogger<JobPipeline>.Instance, Breaker, clock);
    }

    public IBackend Backend { get; }
    public WorkerOptions Options { get; }
    public JobCancellations Cancellations { get; } = new();
    public InMemoryJobQueue Queue { get; } = new();
    public JobPipeline Pipeline { get; }
    public HostCircuitBreaker? Breaker { get; }

    public static PipelineHarness WithFake(FakeOptions fake, WorkerOptions? options = null) => new(new FakeBackend(fake), options);

    public InMemoryJob Enqueue(string jobYaml, int requeueCount = 0) =>
        Queue.Enqueue(JobFile.Parse(jobYaml, "test"), requeueCount);

    /// <summary>The options tests start from: short timeouts.</summary>
    public static WorkerOptions TestOptions => new()
    {
        HardLimit = TimeSpan.FromSeconds(30),
        LogSilence = TimeSpan.FromSeconds(30),
        FlushInterval = TimeSpan.FromMilliseconds(50),
        Startup = TimeSpan.FromSeconds(10),
        Upload = TimeSpan.FromSeconds(10),
        Teardown = TimeSpan.FromSeconds(10),
        Requeues = 2,
    };

    /// <summary>Runs the next queued job through the pipeline.</summary>
    public async Task<(InMemoryJob Job, Verdict Verdict)> RunNextAsync(CancellationToken stop = default)
    {
        await foreach (var job in Queue.ReceiveAsync(CancellationToken.None))
        {
            var verdict = await Pipeline.RunAsync(job, new ProcessorStatus("test"), stop);
            return ((InMemoryJob)job, verdict);
        }
        throw new InvalidOperationException("no job queued");
    }

    public async Task<(InMemoryJob Job, Verdict Verdict)> RunAsync(string jobYaml, int requeueCount = 0)
    {
        Enqueue(jobYaml, requeueCount);
        return await RunNextAsync();
    }
}
