using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>A fake Compute API, settings pointing at it with short sleeps, and a way to run a whole job through the pipeline.</summary>
public sealed class GceTestBed : IAsyncDisposable
{
    public const string Fleet = "test-fleet";
    public const string Host = "worker-host-1";

    private GceTestBed(FakeComputeApi fake) => Fake = fake;

    public FakeComputeApi Fake { get; }

    public List<string> Progress { get; } = [];

    public static async Task<GceTestBed> StartAsync(bool bootVms = true) => new(await FakeComputeApi.StartAsync(bootVms));

    public SettingsSource Settings(params (string Key, string Value)[] overrides) => new(Variables(overrides));

    /// <summary>The environment of a worker using the fake: <c>WORKER_</c> plus each override's key.</summary>
    public Dictionary<string, string> Variables(params (string Key, string Value)[] overrides)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["WORKER_PROVIDER_NAME"] = "gce",
            ["WORKER_FLEET"] = Fleet,
            ["WORKER_HOSTNAME"] = Host,
            ["WORKER_LOG_LEVEL"] = "warning",
            ["WORKER_GCE_API_ENDPOINT"] = Fake.Endpoint.ToString(),
            ["WORKER_GCE_ACCESS_TOKEN"] = FakeComputeApi.Token,
            ["WORKER_GCE_PROJECT_ID"] = FakeComputeApi.Project,
            ["WORKER_GCE_ZONE"] = "us-central1-a",
            ["WORKER_GCE_BOOT_PRE_POLL_SLEEP"] = "0",
            ["WORKER_GCE_BOOT_POLL_SLEEP"] = "20ms",
            ["WORKER_GCE_STOP_POLL_SLEEP"] = "20ms",
            ["WORKER_GCE_UPLOAD_RETRIES"] = "3",
            ["WORKER_GCE_UPLOAD_RETRY_SLEEP"] = "50ms",
            ["WORKER_GCE_SSH_DIAL_TIMEOUT"] = "3s",
            ["WORKER_GCE_SSH_USER"] = Fake.VmUser,
            ["WORKER_GCE_SSH_PORT"] = Fake.SshPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WORKER_GCE_RATE_LIMIT"] = "0",
            ["WORKER_GCE_API_RETRIES"] = "4",
            ["WORKER_GCE_BACKOFF_RETRY_MAX"] = "50ms",
            // Long enough that no good call on a loaded machine times out and is sent twice.
            ["WORKER_GCE_REQUEST_TIMEOUT"] = "10s",
            ["WORKER_GCE_HOST_INSTANCE"] = Host,
        };
        foreach (var (key, value) in overrides)
        {
            variables["WORKER_" + key] = value;
        }
        return variables;
    }

    public GceBackend Backend(params (string Key, string Value)[] overrides) =>
        GceRegistration.CreateBackend(Settings(overrides), NullLoggerFactory.Instance);

    public StartAttributes Attributes(long jobId = 4242, TimeSpan? hardTimeout = null) => new()
    {
        JobId = jobId,
        HardTimeout = hardTimeout ?? TimeSpan.FromMinutes(5),
        Labels = new MachineLabels(Fleet, Host, TimeSpan.FromMinutes(10)).For(jobId, hardTimeout ?? TimeSpan.FromMinutes(5)),
    };

    public IProgress<string> ProgressSink() => new SyncProgress(Progress);

    /// <summary>Runs one job file through the whole pipeline on <paramref name="backend"/>.</summary>
    public static async Task<(Verdict Verdict, InMemoryJob Job)> RunJobAsync(IBackend backend, string jobYaml,
        TimeSpan? startup = null, Func<InMemoryJob, Task>? whileRunning = null)
    {
        var options = new WorkerOptions
        {
            Startup = startup ?? TimeSpan.FromSeconds(30),
            Upload = TimeSpan.FromSeconds(20),
            Teardown = TimeSpan.FromSeconds(20),
            HardLimit = TimeSpan.FromMinutes(1),
            LogSilence = TimeSpan.FromMinutes(1),
            FlushInterval = TimeSpan.FromMilliseconds(50),
            Host = Host,
            Fleet = Fleet,
        };
        var pipeline = new JobPipeline(options, backend, new BuiltinScriptGenerator(), new JobCancellations(),
            new MachineLabels(Fleet, Host, TimeSpan.FromMinutes(10)), NullLogger<JobPipeline>.Instance);
        var queue = new InMemoryJobQueue();
        var job = queue.Enqueue(JobFile.Parse(jobYaml, "builds.gce"));
        var run = pipeline.RunAsync(job, new ProcessorStatus("test"), CancellationToken.None);
        if (whileRunning is not null)
        {
            await whileRunning(job);
        }
        return (await run, job);
    }

    /// <summary>
    /// The smallest insert of a VM in us-central1-a the fake takes, with <paramref name="scheduling"/>
    /// and <paramref name="gpus"/> as given: for asking the fake what it refuses, past the backend.
    /// </summary>
    public static JsonObject InstanceBody(string name, JsonObject scheduling, JsonArray? gpus = null)
    {
        var body = new JsonObject
        {
            ["name"] = name,
            ["machineType"] = "zones/us-central1-a/machineTypes/n1-standard-8",
            ["disks"] = new JsonArray(new JsonObject { ["boot"] = true, ["initializeParams"] = new JsonObject { ["sourceImage"] = "projects/test-project/global/images/x" } }),
            ["networkInterfaces"] = new JsonArray(new JsonObject { ["network"] = "global/networks/default" }),
            ["scheduling"] = scheduling,
        };
        if (gpus is not null)
        {
            body["guestAccelerators"] = gpus;
        }
        return body;
    }

    /// <summary>Sends the insert of <paramref name="body"/> in us-central1-a to the fake as the worker's client sends it.</summary>
    public async Task<ComputeOperation> InsertAsync(JsonObject body)
    {
        var settings = Settings();
        using var client = GceRegistration.CreateClient(GceOptions.Load(settings), settings, NullLoggerFactory.Instance);
        return await client.MutateAsync(HttpMethod.Post, $"projects/{FakeComputeApi.Project}/zones/us-central1-a/instances", body, Guid.NewGuid(), CancellationToken.None);
    }

    /// <summary>Waits until the job's log contains <paramref name="text"/>.</summary>
    public static Task WaitForLogAsync(InMemoryJob job, string text, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(() => job.Log.Contains(text, StringComparison.Ordinal), $"the log shows '{text}'", timeout, explain: () => job.Log);

    public ValueTask DisposeAsync() => Fake.DisposeAsync();

    private sealed class SyncProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (lines)
            {
                lines.Add(value);
            }
        }
    }
}
