using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;

namespace Worker.Docker.Tests;

/// <summary>
/// Whole jobs through the real pipeline on an in-memory queue, with the Docker backend on the real
/// engine, under a fleet name of its own. Disposing it asserts that no container of that fleet is left.
/// A second harness may join the fleet of a first (another worker on the same host); the first checks.
/// </summary>
internal sealed class DockerHarness : IAsyncDisposable
{
    private readonly bool _ownsFleet;

    private DockerHarness(DockerOptions options, WorkerOptions worker, string fleet, bool ownsFleet, string host, Func<string, Task>? beforeStart)
    {
        _ownsFleet = ownsFleet;
        Fleet = fleet;
        Labels = new MachineLabels(fleet, host, TimeSpan.FromMinutes(5));
        var client = DockerRegistration.CreateClient(options);
        Backend = new DockerBackend(beforeStart is null ? client : StartWatch.Around(client, beforeStart), options, Labels,
            NullLogger<DockerBackend>.Instance, ownsClient: true);
        Options = worker;
        Pipeline = new JobPipeline(worker, Backend, new BuiltinScriptGenerator(), Cancellations, Labels, NullLogger<JobPipeline>.Instance);
    }

    public string Fleet { get; }
    public MachineLabels Labels { get; }
    public DockerBackend Backend { get; }
    public WorkerOptions Options { get; }
    public JobCancellations Cancellations { get; } = new();
    public InMemoryJobQueue Queue { get; } = new();
    public JobPipeline Pipeline { get; }

    public static DockerOptions DefaultOptions => new()
    {
        EndpointUri = DockerEngine.Endpoint,
        DefaultImage = DockerEngine.Image,
        CpusPerJob = 1,
        MemoryPerJob = 512L << 20,
        PullPolicy = Worker.Core.Images.ImagePullPolicy.Never,
    };

    /// <summary>
    /// Settings under which each job's container runs the init of <see cref="DockerEngine.InitImageAsync"/>
    /// as its main process (WORKER_DOCKER_CMD) and the script by exec, as on travis-worker.
    /// </summary>
    public static async Task<Func<DockerOptions, DockerOptions>> UnderInitAsync()
    {
        var image = await DockerEngine.InitImageAsync();
        return o => o with { DefaultImage = image, MainCommand = ["/sbin/init"] };
    }

    /// <summary>The pipeline's settings: short limits, and no requeues (a job the machine failed is errored).</summary>
    public static WorkerOptions DefaultWorkerOptions => new()
    {
        HardLimit = TimeSpan.FromSeconds(60),
        LogSilence = TimeSpan.FromSeconds(60),
        FlushInterval = TimeSpan.FromMilliseconds(50),
        Startup = TimeSpan.FromSeconds(60),
        Upload = TimeSpan.FromSeconds(30),
        Teardown = TimeSpan.FromSeconds(30),
        Requeues = 0,
    };

    /// <param name="joinFleet">The fleet of another harness to join (a second worker of the fleet); that harness checks what is left.</param>
    /// <param name="host">The worker host name (WORKER_HOSTNAME) on the machines' labels.</param>
    /// <param name="beforeStart">Given each container's id just before the engine is asked to start it (see <see cref="StartWatch"/>).</param>
    public static async Task<DockerHarness> CreateAsync(Func<DockerOptions, DockerOptions>? configure = null, WorkerOptions? worker = null,
        string? joinFleet = null, string host = "test-host", Func<string, Task>? beforeStart = null)
    {
        await DockerEngine.EnsureAvailableAsync();
        var options = (configure ?? (o => o))(DefaultOptions);
        return new DockerHarness(options, worker ?? DefaultWorkerOptions, joinFleet ?? DockerEngine.NewFleet(), ownsFleet: joinFleet is null, host, beforeStart);
    }

    public InMemoryJob Enqueue(string jobYaml) => Queue.Enqueue(JobFile.Parse(jobYaml, "test"));

    /// <summary>Runs the next queued job through the pipeline.</summary>
    public async Task<(InMemoryJob Job, Verdict Verdict)> RunNextAsync()
    {
        await foreach (var job in Queue.ReceiveAsync(CancellationToken.None))
        {
            var verdict = await Pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);
            return ((InMemoryJob)job, verdict);
        }
        throw new InvalidOperationException("no job queued");
    }

    public async Task<(InMemoryJob Job, Verdict Verdict)> RunAsync(string jobYaml)
    {
        Enqueue(jobYaml);
        return await RunNextAsync();
    }

    /// <summary>
    /// Runs a job whose script is <paramref name="jobYaml"/>'s settings plus "echo ready; sleep 300",
    /// looks at its container while it runs, then cancels it.
    /// </summary>
    public async Task<(InMemoryJob Job, ContainerInspectResponse Container)> InspectWhileRunningAsync(string jobYaml)
    {
        var job = Enqueue(jobYaml + "\nscript: [\"echo ready\", \"sleep 300\"]");
        var run = RunNextAsync();
        await WaitForLogAsync(job, "ready\n");
        using var client = DockerEngine.Client();
        var container = await client.Containers.InspectContainerAsync(Assert.Single(await ContainersAsync()).ID);
        Cancellations.Cancel(job.Payload.JobId, "seen by the test");
        await run;
        return (job, container);
    }

    /// <summary>A machine for job <paramref name="jobId"/> from the backend, labelled as the pipeline labels it, outside any pipeline.</summary>
    public async Task<DockerInstance> StartMachineAsync(long jobId)
    {
        var attributes = new StartAttributes { JobId = jobId, Labels = Labels.For(jobId, TimeSpan.FromMinutes(5)) };
        return (DockerInstance)await Backend.StartAsync(attributes, new Progress<string>(), CancellationToken.None);
    }

    /// <summary>What <see cref="DockerInventory"/> lists of this harness's fleet.</summary>
    public async Task<List<MachineRecord>> InventoryAsync()
    {
        using var client = DockerEngine.Client();
        var machines = new List<MachineRecord>();
        await foreach (var m in new DockerInventory(client).ListAsync(CancellationToken.None))
        {
            if (m.Labels.GetValueOrDefault(MachineLabels.Fleet) == Fleet)
            {
                machines.Add(m);
            }
        }
        return machines;
    }

    public static Task WaitForLogAsync(InMemoryJob job, string text) =>
        Eventually.TrueAsync(() => job.Log.Contains(text, StringComparison.Ordinal), $"'{text.Trim()}' appears in the log",
            gaveUp: () => job.Outcome.IsCompleted && !job.Log.Contains(text, StringComparison.Ordinal), explain: () => job.Log);

    public Task<IList<ContainerListResponse>> ContainersAsync() => DockerEngine.ContainersOfFleetAsync(Fleet);

    public async ValueTask DisposeAsync()
    {
        await Backend.DisposeAsync();
        if (!_ownsFleet)
        {
            return;
        }
        var left = await DockerEngine.ContainersOfFleetAsync(Fleet);
        Assert.True(left.Count == 0, $"containers of fleet {Fleet} were left behind: {string.Join(", ", left.Select(c => c.Names.FirstOrDefault()))}");
    }
}
