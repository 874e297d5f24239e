using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;
using Worker.Vm.Tart;
using Worker.Vm.Tests.Fakes;
using Worker.Vm.Vetu;

namespace Worker.Vm.Tests;

/// <summary>
/// A stand-in <c>tart</c> or <c>vetu</c> with its golden images, the guests' accounts, a
/// WORKER_BASE_DIR of its own, settings that point at them, and a way to run a whole job through the
/// pipeline on the backend.
/// </summary>
public sealed class VmTestBed : IAsyncDisposable
{
    public const string Fleet = "vm-test-fleet";
    public const string Host = "vm-test-host";

    /// <summary>The account every guest has (Cirrus's images: admin/admin; a host user must not be called admin here).</summary>
    public const string GuestUser = "worker-vm-guest";
    public const string GuestPassword = "worker-vm-pw";

    /// <summary>The one account of <see cref="OtherUserImage"/>'s guests.</summary>
    public const string OtherGuestUser = "worker-vm-other";

    public const string DefaultImage = "golden-linux";
    public const string DarwinImage = "golden-darwin";
    public const string OtherUserImage = "golden-other-user";
    public const string RegistryImage = "ghcr.io/acme/ci-linux:1";

    private readonly List<VmBackend> _backends = [];

    private VmTestBed(string tool, FakeVmCli fake)
    {
        Tool = tool;
        Fake = fake;
    }

    /// <summary><c>tart</c> or <c>vetu</c>.</summary>
    public string Tool { get; }

    public FakeVmCli Fake { get; }

    public string BaseDir { get; } = Directory.CreateTempSubdirectory("vm-base-").FullName;

    /// <summary>What backends built by <see cref="Backend"/> logged.</summary>
    public ListLoggerProvider Logged { get; } = new();

    public List<string> Progress { get; } = [];

    /// <summary>Where the records of this tool's VMs are.</summary>
    public string RecordDir => Path.Combine(BaseDir, "vms", Tool);

    /// <summary>Where the lock file of VM <paramref name="name"/> is.</summary>
    public string LockPath(string name) => Path.Combine(RecordDir, name + ".lock");

    /// <summary>A record its worker was writing when it was killed (written beside its place, then moved there); its path.</summary>
    public string LeaveHalfWrittenRecord(string name)
    {
        Directory.CreateDirectory(RecordDir);
        var path = Path.Combine(RecordDir, name + ".json.tmp");
        File.WriteAllText(path, "{\"Name\":");
        return path;
    }

    /// <summary>Leaves a lock file as a worker killed while it held it does: its pid inside, nobody holding it.</summary>
    public string LeaveLockFile(string name)
    {
        Directory.CreateDirectory(RecordDir);
        File.WriteAllText(LockPath(name), "4242\n");
        return LockPath(name);
    }

    public static async Task<VmTestBed> StartAsync(string tool)
    {
        await TestSshUsers.PasswordUserAsync(GuestUser, GuestPassword);
        await TestSshUsers.PasswordUserAsync(OtherGuestUser, GuestPassword);
        FakeVmCli fake = tool switch
        {
            "tart" => new FakeTart(),
            "vetu" => new FakeVetu(),
            _ => throw new ArgumentException(tool, nameof(tool)),
        };
        var linux = new FakeVmImage("linux", GuestUser);
        fake.AddLocalImage(DefaultImage, linux);
        fake.AddLocalImage(DarwinImage, new FakeVmImage("darwin", GuestUser));
        fake.AddLocalImage(OtherUserImage, new FakeVmImage("linux", OtherGuestUser));
        fake.AddRegistryImage(RegistryImage, linux);
        return new VmTestBed(tool, fake);
    }

    /// <summary>The environment of a worker using the stand-in: each override's key gets <c>WORKER_</c>; <c>_X</c> keys get the tool's prefix too.</summary>
    public Dictionary<string, string> Variables(params (string Key, string Value)[] overrides)
    {
        var prefix = "WORKER_" + Tool.ToUpperInvariant();
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["WORKER_PROVIDER_NAME"] = Tool,
            ["WORKER_FLEET"] = Fleet,
            ["WORKER_HOSTNAME"] = Host,
            ["WORKER_BASE_DIR"] = BaseDir,
            ["WORKER_LOG_LEVEL"] = "warning",
            [prefix + "_PATH"] = Fake.ProgramPath,
            [prefix + "_SSH_USER"] = GuestUser,
            [prefix + "_SSH_PASSWORD"] = GuestPassword,
            [prefix + "_SSH_PORT"] = Fake.SshPort.ToString(CultureInfo.InvariantCulture),
            [prefix + "_IMAGE_DEFAULT"] = DefaultImage,
            [prefix + "_BOOT_TIMEOUT"] = "30s",
        };
        foreach (var (key, value) in overrides)
        {
            variables[key.StartsWith('_') ? prefix + key : "WORKER_" + key] = value;
        }
        return variables;
    }

    public SettingsSource Settings(params (string Key, string Value)[] overrides) => new(Variables(overrides));

    public static MachineLabels Labels => new(Fleet, Host, TimeSpan.FromMinutes(10));

    /// <summary>A backend on the stand-in, disposed with the bed; <c>_X</c> overrides are the tool's own settings.</summary>
    public VmBackend Backend(params (string Key, string Value)[] overrides) => Backend(o => o, overrides);

    public VmBackend Backend(Func<VmOptions, VmOptions> adjust, params (string Key, string Value)[] overrides)
    {
        var settings = Settings(overrides);
        var loggers = LoggerFactory.Create(b => b.AddProvider(Logged).SetMinimumLevel(LogLevel.Debug));
        var backend = Flavor.CreateBackend(settings, BaseDir, Labels, loggers, adjust);
        _backends.Add(backend);
        return backend;
    }

    public VmInventory Inventory() => Flavor.CreateInventory(Settings(), BaseDir, NullLoggerFactory.Instance);

    private VmFlavor Flavor => Tool == TartRegistration.Name ? TartRegistration.Flavor : VetuRegistration.Flavor;

    public StartAttributes Attributes(long jobId = 4242, TimeSpan? hardTimeout = null) => new()
    {
        JobId = jobId,
        HardTimeout = hardTimeout ?? TimeSpan.FromMinutes(5),
        Labels = Labels.For(jobId, hardTimeout ?? TimeSpan.FromMinutes(5)),
    };

    public IProgress<string> ProgressSink() => new SyncProgress(Progress);

    /// <summary>Runs one job file through the whole pipeline on <paramref name="backend"/>; <paramref name="workerStopping"/> is the worker's shutdown.</summary>
    public static async Task<(Verdict Verdict, InMemoryJob Job)> RunJobAsync(IBackend backend, string jobYaml,
        TimeSpan? startup = null, Func<InMemoryJob, Task>? whileRunning = null, JobCancellations? cancellations = null,
        CancellationToken workerStopping = default)
    {
        var options = new WorkerOptions
        {
            Startup = startup ?? TimeSpan.FromSeconds(60),
            Upload = TimeSpan.FromSeconds(30),
            Teardown = TimeSpan.FromSeconds(60),
            HardLimit = TimeSpan.FromMinutes(2),
            LogSilence = TimeSpan.FromMinutes(2),
            FlushInterval = TimeSpan.FromMilliseconds(50),
            Host = Host,
            Fleet = Fleet,
        };
        var pipeline = new JobPipeline(options, backend, new BuiltinScriptGenerator(), cancellations ?? new JobCancellations(),
            Labels, NullLogger<JobPipeline>.Instance);
        var queue = new InMemoryJobQueue();
        var job = queue.Enqueue(JobFile.Parse(jobYaml, "builds.vm"));
        var run = pipeline.RunAsync(job, new ProcessorStatus("test"), workerStopping);
        if (whileRunning is not null)
        {
            await whileRunning(job);
        }
        return (await run, job);
    }

    /// <summary>Waits until the job's log contains <paramref name="text"/>.</summary>
    public static Task WaitForLogAsync(InMemoryJob job, string text) =>
        Eventually.TrueAsync(() => job.Log.Contains(text, StringComparison.Ordinal), $"the log shows '{text}'",
            gaveUp: () => job.Outcome.IsCompleted, explain: () => "the log has:\n" + job.Log);

    /// <summary>The lines the backends logged, read while they may still write.</summary>
    public string LoggedText()
    {
        lock (Logged.Lines)
        {
            return string.Join('\n', Logged.Lines);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }
        await Fake.DisposeAsync();
        Directory.Delete(BaseDir, recursive: true);
    }

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
