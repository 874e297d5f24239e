using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;
using Worker.Core.Queues;
using Xunit.Abstractions;

namespace Worker.Ssh.Tests.BareMetal;

/// <summary>The real `worker` executable with <c>WORKER_PROVIDER_NAME=ssh</c> against test sshd hosts.</summary>
[Trait("Category", "Integration")]
public sealed partial class SshWorkerProcessTests(ITestOutputHelper output) : BareMetalTest
{
    private const string QueueName = "builds.ssh";

    [Fact]
    public async Task Worker_exec_of_the_hello_example_on_the_ssh_backend_prints_the_jobs_output_and_exits_0()
    {
        var host = await StartHostAsync("host-a", HostUserA);

        var (exit, stdout, stderr, elapsed) = await WorkerProcess.RunAsync(Environment(Settings([host])), Dir,
            "exec", Path.Combine(RepoRoot(), "examples", "hello.yml"), "--backend", "ssh");
        output.WriteLine($"worker exec on the ssh backend: exit {exit} after {elapsed.TotalSeconds:0.00}s");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains($"Running on {Entry(host)}", stdout);
        Assert.Contains("Hello from job", stdout);
        Assert.Contains("the token is [secure]", stdout);
        Assert.Contains("after_script always runs", stdout);
        Assert.Contains("(via ssh)", stdout);
        Assert.Empty(JobDirectories(host));
    }

    [Fact]
    public async Task A_missing_known_hosts_stops_start_up_with_one_line_naming_it()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var env = Environment(Settings([host], ("SSH_KNOWN_HOSTS", "")));

        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(env, Dir, "run");

        Assert.Equal(2, exit);
        Assert.Equal("worker: WORKER_SSH_KNOWN_HOSTS= is not valid: a known_hosts file listing every host's key " +
            "(WORKER_SSH_INSECURE_ACCEPT_ANY_HOST_KEY=true skips the check, unsafely)", stderr.Trim());
    }

    [Fact]
    public async Task Worker_run_with_every_host_down_says_so_on_readyz_and_in_its_log_and_runs_the_job_once_a_host_answers()
    {
        var (a, b) = await StartTwoHostsAsync();
        var settings = Settings([a, b]);
        var bPort = b.Options.Port;
        a.Dispose();
        b.Dispose();
        var env = Environment(settings, ("QUEUE_TYPE", "file"), ("QUEUE_NAME", QueueName), ("BASE_DIR", Dir), ("FILE_POLLING_INTERVAL", "100ms"),
            ("POOL_SIZE", "5"), ("LOG_LEVEL", "information"), ("HTTP_ADDR", "127.0.0.1:0"),
            ("HOST_PROBE_INTERVAL", "300ms"), ("HOST_PROBE_MAX_INTERVAL", "1s"));
        await using var worker = WorkerProcess.Start(env, Dir, "run");
        using var http = await HttpOfAsync(worker);
        var queue = new FileJobQueue(Dir, QueueName, TimeSpan.FromMilliseconds(100), new JobCancellations(), NullLogger.Instance);
        var job = JobFile.Parse("script: [\"echo on $(id -un)\"]", QueueName);
        queue.Submit(job);

        // The reason is the breaker's latest: the job's failure (every host set aside) until the first
        // probe, a few hundred milliseconds later, then the probe's (no host takes a login). Both say it.
        var readiness = "";
        await Eventually.TrueAsync(async () =>
        {
            using var answer = await http.GetAsync("/readyz");
            readiness = await answer.Content.ReadAsStringAsync();
            return answer.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, "/readyz answers 503", explain: () => worker.Stderr);
        output.WriteLine($"/readyz with every host down: {readiness}");
        Assert.True(readiness.Contains("every host of WORKER_SSH_HOSTS is set aside", StringComparison.Ordinal)
            || readiness.Contains("no host of WORKER_SSH_HOSTS takes a login", StringComparison.Ordinal), readiness);
        await Eventually.TrueAsync(() => worker.Stderr.Contains("Every host of WORKER_SSH_HOSTS is down", StringComparison.Ordinal),
            "the log says every host is down", explain: () => worker.Stderr);
        Assert.Contains("WORKER_POOL_SIZE=5 is more than the 2 host(s) of WORKER_SSH_HOSTS, which run one job each: 2 processors", worker.Stderr);
        Assert.Null(StateOf(queue, job.JobId));

        await StartHostAsync("host-b", HostUserB, bPort);

        await Eventually.TrueAsync(() => StateOf(queue, job.JobId) is not null, "the job finished", explain: () => worker.Stderr);
        Assert.Equal("passed", StateOf(queue, job.JobId));
        Assert.Contains($"on {HostUserB}", await File.ReadAllTextAsync(queue.PathOf(FileJobQueue.Logs, $"{job.JobId}.log")));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);
        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromMinutes(1)));
    }

    /// <summary>The worker's environment: <paramref name="settings"/>' WORKER_SSH_* and the given worker keys, on the ssh backend.</summary>
    private static Dictionary<string, string> Environment(Core.Configuration.SettingsSource settings, params (string Key, string Value)[] more)
    {
        var env = settings.WorkerVariables().ToDictionary(v => v.Variable, v => settings.Find(v.Key)?.Value ?? "", StringComparer.Ordinal);
        env["WORKER_PROVIDER_NAME"] = "ssh";
        foreach (var (key, value) in more)
        {
            env["WORKER_" + key] = value;
        }
        return env;
    }

    private static string? StateOf(FileJobQueue queue, long jobId)
    {
        var path = queue.PathOf(FileJobQueue.Finished, $"{jobId.ToString(CultureInfo.InvariantCulture)}.state");
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    private static async Task<HttpClient> HttpOfAsync(WorkerProcess worker)
    {
        await Eventually.TrueAsync(() => BoundAddress().IsMatch(worker.Stderr), "the health server is up", TimeSpan.FromSeconds(60),
            () => worker.HasExited, () => worker.Stderr);
        return new HttpClient { BaseAddress = new Uri(BoundAddress().Match(worker.Stderr).Groups["url"].Value) };
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "examples", "hello.yml")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("examples/hello.yml not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"Health and control server on (?<url>http://[0-9.]+:\d+)")]
    private static partial Regex BoundAddress();
}
