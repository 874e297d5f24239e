using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;
using Worker.Core.Queues;
using Worker.Gce.Tests.Fakes;
using Worker.TestSupport;
using Xunit.Abstractions;

namespace Worker.Gce.Tests;

/// <summary>
/// Two `worker run` hosts share a file queue; the Compute API answers 403 to one host's inserts
/// (its service account lacks compute.instances.create). That host stops taking jobs instead of
/// erroring them, and takes jobs again once the role is granted.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class GceBrokenHostTests(ITestOutputHelper output) : FakeGceTest(bootVms: true), IDisposable
{
    private const int Jobs = 40;
    private const string DeniedToken = "token-without-compute-instances-create";
    private const string QueueName = "builds.gce";
    private readonly string _dir = Directory.CreateTempSubdirectory("gce-broken-host-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FileJobQueue Queue => new(_dir, QueueName, TimeSpan.FromMilliseconds(100), new JobCancellations(), NullLogger.Instance);

    private Dictionary<string, string> Env(string host, int pool, params (string Key, string Value)[] more) => Bed.Variables([
        ("HOSTNAME", host),
        ("QUEUE_TYPE", "file"),
        ("QUEUE_NAME", QueueName),
        ("BASE_DIR", _dir),
        ("FILE_POLLING_INTERVAL", "100ms"),
        ("POOL_SIZE", pool.ToString(CultureInfo.InvariantCulture)),
        ("LOG_LEVEL", "information"),
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("HOST_PROBE_INTERVAL", "300ms"),
        ("HOST_PROBE_MAX_INTERVAL", "2s"),
        .. more,
    ]);

    [Fact]
    public async Task A_host_whose_inserts_are_refused_with_403_errors_no_job_and_takes_jobs_again_once_the_role_is_granted()
    {
        Fake.AddAccount(DeniedToken, FakeCall.InsertInstance);
        await using var brokenHost = WorkerProcess.Start(Env("broken-host", 2, ("GCE_ACCESS_TOKEN", DeniedToken)), _dir, "run");
        await using var healthyHost = WorkerProcess.Start(Env("healthy-host", 4), _dir, "run");
        using var broken = await HttpOfAsync(brokenHost);
        var queue = Queue;

        var payloads = Enumerable.Range(0, Jobs).Select(i => JobFile.Parse($"script: [\"echo job {i}\"]", QueueName)).ToList();
        foreach (var payload in payloads)
        {
            queue.Submit(payload);
        }

        await Eventually.TrueAsync(async () => (await broken.GetAsync("/readyz")).StatusCode == HttpStatusCode.ServiceUnavailable,
            "the broken host's /readyz answers 503", TimeSpan.FromSeconds(60), explain: () => brokenHost.Stderr);
        await Eventually.TrueAsync(() => payloads.All(p => StateOf(p.JobId) is not null), $"all {Jobs} jobs finished", TimeSpan.FromMinutes(5),
            explain: () => healthyHost.Stderr + brokenHost.Stderr);

        output.WriteLine($"{Jobs} jobs: the broken host failed {Count(brokenHost, "outcome HostFailure")} starts and stopped taking jobs {Count(brokenHost, "is unusable (")} times");
        Assert.All(payloads, p => Assert.Equal("passed", StateOf(p.JobId)));
        Assert.All(payloads, p => Assert.Contains("hostname: healthy-host", LogOf(p.JobId)));
        Assert.All(payloads, p => Assert.DoesNotContain("hostname: broken-host", LogOf(p.JobId)));
        Assert.Contains("the Compute API refuses this worker's requests in project test-project", brokenHost.Stderr);
        Assert.Contains("Required 'compute.instances.create' permission for 'projects/test-project/zones/us-central1-a/instances", brokenHost.Stderr);
        Assert.Contains("check the roles of WORKER_GCE_ACCESS_TOKEN", brokenHost.Stderr);
        Assert.Contains("until a Compute API get of zone us-central1-a in project test-project succeeds", brokenHost.Stderr);
        // A job's state is reported before its VM is deleted: the last ones may still be going.
        await Eventually.TrueAsync(() => !Fake.InstanceNames.Any(), "every job's VM is deleted");

        Fake.Grant(DeniedToken);
        healthyHost.Signal("TERM");
        Assert.Equal(0, await healthyHost.WaitAsync(TimeSpan.FromMinutes(2)));
        var more = Enumerable.Range(0, 2).Select(i => JobFile.Parse($"script: [\"echo again {i}\"]", QueueName)).ToList();
        foreach (var payload in more)
        {
            queue.Submit(payload);
        }

        await Eventually.TrueAsync(() => more.All(p => StateOf(p.JobId) is not null), "the jobs submitted after the grant finished", TimeSpan.FromMinutes(2),
            explain: () => brokenHost.Stderr);
        Assert.All(more, p => Assert.Equal("passed", StateOf(p.JobId)));
        Assert.All(more, p => Assert.Contains("hostname: broken-host", LogOf(p.JobId)));
        Assert.Equal(HttpStatusCode.OK, (await broken.GetAsync("/readyz")).StatusCode);
        brokenHost.Signal("TERM");
        Assert.Equal(0, await brokenHost.WaitAsync(TimeSpan.FromMinutes(2)));
    }

    private static int Count(WorkerProcess host, string text) => Regex.Count(host.Stderr, Regex.Escape(text));

    private string? StateOf(long jobId) =>
        File.Exists(Queue.PathOf(FileJobQueue.Finished, $"{jobId}.state")) ? File.ReadAllText(Queue.PathOf(FileJobQueue.Finished, $"{jobId}.state")).Trim() : null;

    private string LogOf(long jobId) => File.ReadAllText(Queue.PathOf(FileJobQueue.Logs, $"{jobId}.log"));

    private static async Task<HttpClient> HttpOfAsync(WorkerProcess host)
    {
        await Eventually.TrueAsync(() => BoundAddress().IsMatch(host.Stderr), "the health server is up", TimeSpan.FromSeconds(60),
            () => host.HasExited, () => host.Stderr);
        return new HttpClient { BaseAddress = new Uri(BoundAddress().Match(host.Stderr).Groups["url"].Value) };
    }

    [GeneratedRegex(@"Health and control server on (?<url>http://[0-9.]+:\d+)")]
    private static partial Regex BoundAddress();
}
