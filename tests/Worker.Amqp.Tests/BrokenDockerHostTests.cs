using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Worker.TestSupport;
using Xunit.Abstractions;

namespace Worker.Amqp.Tests;

/// <summary>
/// Two `worker run` hosts share a queue on a real broker; one can't reach its Docker engine. The
/// broken host stops taking jobs after its threshold of host failures instead of erroring every
/// job it touches, says why on /readyz, and takes jobs again once a real engine answers on its endpoint.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class BrokenDockerHostTests(RabbitMqBroker broker, ITestOutputHelper output) : IClassFixture<RabbitMqBroker>, IDisposable
{
    private const int Jobs = 40;
    private readonly string _dir = Directory.CreateTempSubdirectory("bh-").FullName;
    private readonly string _queue = "builds.blackhole-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _fleet = "bh-" + Guid.NewGuid().ToString("N")[..10];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Socket => Path.Combine(_dir, "docker.sock");

    private Dictionary<string, string> Env(string host, int pool) => new()
    {
        ["WORKER_QUEUE_TYPE"] = "amqp",
        ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
        ["WORKER_QUEUE_NAME"] = _queue,
        ["WORKER_PROVIDER_NAME"] = "docker",
        ["WORKER_DOCKER_IMAGE_DEFAULT"] = Environment.GetEnvironmentVariable("WORKER_TEST_IMAGE") is { Length: > 0 } image ? image : "worker-job-base:bookworm",
        ["WORKER_DOCKER_PULL"] = "never",
        ["WORKER_DOCKER_CPUS"] = "0",
        ["WORKER_DOCKER_MEMORY"] = "0",
        ["WORKER_FLEET"] = _fleet,
        ["WORKER_HOSTNAME"] = host,
        ["WORKER_POOL_SIZE"] = pool.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["WORKER_BASE_DIR"] = Path.Combine(_dir, host),
        ["WORKER_LOG_FLUSH_INTERVAL"] = "100ms",
        ["WORKER_HTTP_ADDR"] = "127.0.0.1:0",
        ["WORKER_HOST_PROBE_INTERVAL"] = "200ms",
        ["WORKER_HOST_PROBE_MAX_INTERVAL"] = "1s",
        ["WORKER_HOST_UNHEALTHY_AFTER"] = "3s",
    };

    [Fact]
    public async Task A_host_that_can_not_reach_its_engine_errors_no_job_stops_taking_them_and_takes_them_again_once_an_engine_answers()
    {
        var healthyName = "healthy-" + _fleet;
        var brokenName = "broken-" + _fleet;
        var endpoint = "unix://" + Socket;
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        var brokenEnv = Env(brokenName, 2);
        brokenEnv["WORKER_DOCKER_ENDPOINT"] = endpoint; // nothing listens there (yet)
        await using var brokenHost = WorkerProcess.Start(brokenEnv, _dir, "run");
        await using var healthyHost = WorkerProcess.Start(Env(healthyName, 4), _dir, "run");
        using var broken = await HttpOfAsync(brokenHost);
        await Eventually.TrueAsync(() => Consuming(brokenHost) && Consuming(healthyHost), "both hosts consume the queue",
            TimeSpan.FromSeconds(60), explain: () => brokenHost.Stderr + healthyHost.Stderr);

        var payloads = Enumerable.Range(0, Jobs).Select(i => Broker.Job($"script: [\"echo job {i}\"]", _queue)).ToList();
        foreach (var payload in payloads)
        {
            await Broker.EnqueueAsync(broker.Uri, _queue, payload);
        }

        await Eventually.TrueAsync(async () => (await broken.GetAsync("/readyz")).StatusCode == HttpStatusCode.ServiceUnavailable,
            "the broken host's /readyz answers 503", TimeSpan.FromSeconds(60), explain: () => brokenHost.Stderr);
        var results = new List<IReadOnlyList<Reported>>();
        foreach (var payload in payloads)
        {
            results.Add(await tap.FinishedAsync(payload.JobId, TimeSpan.FromMinutes(4)));
        }

        output.WriteLine($"{Jobs} jobs: the broken host failed {Regex.Count(brokenHost.Stderr, "outcome HostFailure")} starts and stopped taking jobs " +
            $"{Regex.Count(brokenHost.Stderr, Regex.Escape("is unusable ("))} time(s)");
        Assert.All(results, seen => Assert.DoesNotContain(seen, m => m.State == "errored"));
        Assert.All(results, seen => Assert.Equal("passed", seen.Last(m => m.IsState).State));
        Assert.All(results, seen => Assert.Contains($"hostname: {healthyName}", LogOfLastRun(seen)));
        using var notReady = await broken.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        var readiness = JsonNode.Parse(await notReady.Content.ReadAsStringAsync())!;
        Assert.Contains($"can't reach the Docker engine at {endpoint}: no socket at {Socket} (set WORKER_DOCKER_ENDPOINT or DOCKER_HOST)",
            readiness["reasons"]!.AsArray().Select(r => r!.GetValue<string>()).Single(r => r.StartsWith("backend docker", StringComparison.Ordinal)));
        Assert.Contains("Taking no jobs", readiness.ToJsonString());
        Assert.Contains($"until a ping of the Docker engine at {endpoint} and a look at the network its jobs join succeeds", brokenHost.Stderr);
        await Eventually.TrueAsync(async () => (await broken.GetAsync("/healthz")).StatusCode == HttpStatusCode.ServiceUnavailable,
            "the broken host's /healthz answers 503 once broken for WORKER_HOST_UNHEALTHY_AFTER", explain: () => brokenHost.Stderr);

        await using var engine = DockerSocketRelay.Start(Socket); // a real engine answers on the broken host's endpoint now

        await Eventually.TrueAsync(async () => (await broken.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK,
            "the recovered host's /readyz answers 200", explain: () => brokenHost.Stderr);
        Assert.Equal(HttpStatusCode.OK, (await broken.GetAsync("/healthz")).StatusCode);
        healthyHost.Signal("TERM");
        Assert.Equal(0, await healthyHost.WaitAsync(TimeSpan.FromMinutes(2)));
        var more = Enumerable.Range(0, 3).Select(i => Broker.Job($"script: [\"echo again {i}\"]", _queue)).ToList();
        foreach (var payload in more)
        {
            await Broker.EnqueueAsync(broker.Uri, _queue, payload);
        }
        foreach (var payload in more)
        {
            var seen = await tap.FinishedAsync(payload.JobId, TimeSpan.FromMinutes(2));
            Assert.Equal("passed", seen.Last(m => m.IsState).State);
            Assert.Contains($"hostname: {brokenName}", LogOfLastRun(seen));
        }
        var status = JsonNode.Parse(await broken.GetStringAsync("/status"))!;
        Assert.Equal("closed", status["backend"]!["breaker"]!.GetValue<string>());
        brokenHost.Signal("TERM");
        Assert.Equal(0, await brokenHost.WaitAsync(TimeSpan.FromMinutes(2)));
    }

    private bool Consuming(WorkerProcess host) => host.Stderr.Contains("consuming " + _queue, StringComparison.Ordinal);

    /// <summary>The log parts of the job's last run: from its last "received" on.</summary>
    private static string LogOfLastRun(IReadOnlyList<Reported> seen)
    {
        var lastReceived = seen.Select((m, i) => (m, i)).Last(x => x.m.State == "received").i;
        return string.Concat(seen.Skip(lastReceived).Where(m => m.IsLog).Select(m => m.Log));
    }

    private static async Task<HttpClient> HttpOfAsync(WorkerProcess host)
    {
        await Eventually.TrueAsync(() => BoundAddress().IsMatch(host.Stderr), "the health server is up", TimeSpan.FromSeconds(60),
            () => host.HasExited, () => host.Stderr);
        return new HttpClient { BaseAddress = new Uri(BoundAddress().Match(host.Stderr).Groups["url"].Value) };
    }

    [GeneratedRegex(@"Health and control server on (?<url>http://[0-9.]+:\d+)")]
    private static partial Regex BoundAddress();
}
