using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;
using Worker.Ssh.BareMetal;

namespace Worker.Ssh.Tests.BareMetal;

/// <summary>
/// Bare-metal hosts for the SSH backend: real sshds on loopback ports, each logging its own user in
/// with one key file made by ssh-keygen, a known_hosts file listing them, and jobs run through the
/// real pipeline and processor pool from an in-memory queue.
/// </summary>
public abstract class BareMetalTest : SshdTest
{
    public const string HostUserA = "worker-bm-a";
    public const string HostUserB = "worker-bm-b";

    private readonly List<(ProcessorPool Pool, Task Running)> _pools = [];

    protected string KeyFile => Path.Combine(Dir, "id_ed25519");

    /// <summary>Cancels jobs of every pool the test started.</summary>
    protected JobCancellations Cancellations { get; } = new();

    protected ILoggerFactory Loggers => LoggerFactory.Create(b => b.AddProvider(Logged));

    /// <summary>A host logging in <paramref name="user"/> with <see cref="KeyFile"/>; <paramref name="name"/> keeps its folder (and home) across restarts.</summary>
    protected async Task<TestSshd> StartHostAsync(string name, string user, int? port = null)
    {
        await TestSshUsers.KeyUserAsync(user);
        if (!File.Exists(KeyFile))
        {
            await TestSshd.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", KeyFile);
        }
        return await StartSshdAsync(user: user, port: port, name: name, authorizedKeys: [await File.ReadAllTextAsync(KeyFile + ".pub")]);
    }

    /// <summary>Two hosts, A and B, each with its own user.</summary>
    protected async Task<(TestSshd A, TestSshd B)> StartTwoHostsAsync() =>
        (await StartHostAsync("host-a", HostUserA), await StartHostAsync("host-b", HostUserB));

    /// <summary>A known_hosts file listing the host keys of <paramref name="hosts"/>.</summary>
    protected string KnownHostsFile(params TestSshd[] hosts)
    {
        var path = Path.Combine(Dir, $"known_hosts-{Guid.NewGuid():N}");
        File.WriteAllLines(path, hosts.Select(h => $"{h.KnownHostsName} {h.HostPublicKey}"));
        return path;
    }

    /// <summary>
    /// <c>WORKER_SSH_*</c> for <paramref name="hosts"/> (as <c>user@127.0.0.1:port</c>), the key file
    /// and a known_hosts file listing them; <paramref name="overrides"/> are keys without <c>WORKER_</c>.
    /// </summary>
    protected SettingsSource Settings(IEnumerable<TestSshd> hosts, params (string Key, string Value)[] overrides)
    {
        var list = hosts.ToList();
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["WORKER_SSH_HOSTS"] = string.Join(",", list.Select(Entry)),
            ["WORKER_SSH_KEY_PATH"] = KeyFile,
            ["WORKER_SSH_KNOWN_HOSTS"] = KnownHostsFile([.. list]),
            ["WORKER_SSH_CONNECT_TIMEOUT"] = "3s",
        };
        foreach (var (key, value) in overrides)
        {
            variables["WORKER_" + key] = value;
        }
        return new SettingsSource(variables);
    }

    /// <summary>The WORKER_SSH_HOSTS entry of a host: <c>user@ip:port</c>.</summary>
    protected static string Entry(TestSshd host) =>
        $"{host.Options.User}@{host.Options.Ip}:{host.Options.Port.ToString(CultureInfo.InvariantCulture)}";

    protected SshBackend Backend(IEnumerable<TestSshd> hosts, params (string Key, string Value)[] overrides) =>
        SshRegistration.CreateBackend(Settings(hosts, overrides), Loggers);

    /// <summary>Job directories under a host's build root (default <c>worker-builds</c> in its home).</summary>
    protected static string[] JobDirectories(TestSshd host, string root = "worker-builds")
    {
        var dir = Path.Combine(host.Home, root);
        return Directory.Exists(dir) ? Directory.GetDirectories(dir) : [];
    }

    /// <summary>
    /// Starts <paramref name="size"/> processors on <paramref name="backend"/> over a fresh queue, with
    /// short test limits; they stop with the test.
    /// </summary>
    protected (InMemoryJobQueue Queue, ProcessorPool Pool) StartPool(IBackend backend, int size, HostCircuitBreaker? breaker = null,
        TimeSpan? hardLimit = null)
    {
        var queue = new InMemoryJobQueue();
        var pipeline = new JobPipeline(TestOptions(hardLimit), backend, new BuiltinScriptGenerator(), Cancellations,
            new MachineLabels("test-fleet", "bare-metal-test", TimeSpan.FromMinutes(10)), NullLogger<JobPipeline>.Instance, breaker);
        var pool = new ProcessorPool(queue, pipeline, size, NullLogger<ProcessorPool>.Instance);
        _pools.Add((pool, pool.RunAsync(CancellationToken.None)));
        return (queue, pool);
    }

    /// <summary>A job from the YAML of a job file.</summary>
    protected static JobPayload Job(string yaml) => JobFile.Parse(yaml, "builds.ssh");

    /// <summary>The job's last attempt: the requeued copies, followed to the end.</summary>
    protected static InMemoryJob LastAttempt(InMemoryJob job)
    {
        while (job.Requeued is { } next)
        {
            job = next;
        }
        return job;
    }

    /// <summary>Waits until the job (or its requeued copy) ends other than requeued; returns how it ended.</summary>
    protected static async Task<string> FinalOutcomeAsync(InMemoryJob job)
    {
        while (true)
        {
            var outcome = await job.Outcome.WaitAsync(TimeSpan.FromMinutes(2));
            if (outcome != "requeued")
            {
                return outcome;
            }
            job = job.Requeued!;
        }
    }

    public static WorkerOptions TestOptions(TimeSpan? hardLimit = null) => new()
    {
        Startup = TimeSpan.FromSeconds(60),
        Upload = TimeSpan.FromSeconds(20),
        Teardown = TimeSpan.FromSeconds(20),
        HardLimit = hardLimit ?? TimeSpan.FromMinutes(1),
        LogSilence = TimeSpan.FromMinutes(1),
        FlushInterval = TimeSpan.FromMilliseconds(50),
        Host = "bare-metal-test",
        Fleet = "test-fleet",
    };

    protected override async Task BeforeDisposeAsync()
    {
        foreach (var (pool, running) in _pools)
        {
            pool.StopNow();
            await running.WaitAsync(TimeSpan.FromMinutes(1));
        }
    }
}
