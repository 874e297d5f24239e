using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;
using Worker.Core.Queues;
using Worker.Http;

namespace Worker.Tests;

/// <summary>
/// WORKER_MAX_LIFETIME: `worker run` (the real process) drains and exits 0 after that long, so the
/// instance group replaces the host; the job it was running finishes or goes back to the queue.
/// </summary>
public sealed partial class LifetimeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private Dictionary<string, string> Env(string lifetime, string fakeRunSleep = "0s", string shutdownTimeout = "1m") => new()
    {
        ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
        ["WORKER_QUEUE_NAME"] = "builds.test",
        ["WORKER_PROVIDER_NAME"] = "fake",
        ["WORKER_FAKE_RUN_SLEEP"] = fakeRunSleep,
        ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
        ["WORKER_SHUTDOWN_TIMEOUT"] = shutdownTimeout,
        ["WORKER_MAX_LIFETIME"] = lifetime,
    };

    private FileJobQueue Queue => field ??= new(Path.Combine(_dir.Path, "state"), "builds.test", TimeSpan.FromSeconds(1),
        new JobCancellations(), NullLogger.Instance);

    private void Drop(long id) => Queue.Submit(JobFile.Parse($"id: {id}\nscript: [\"true\"]", "builds.test"));

    private bool IsIn(string folder, long id) => File.Exists(Queue.PathOf(folder, FileJobQueue.FileName(id)));

    private string StateOf(long id) =>
        File.Exists(Queue.PathOf(FileJobQueue.Finished, $"{id}.state")) ? File.ReadAllText(Queue.PathOf(FileJobQueue.Finished, $"{id}.state")).Trim() : "";

    [Fact]
    public async Task Idle_worker_retires_after_its_max_lifetime_and_exits_0()
    {
        var clock = Stopwatch.StartNew();
        await using var worker = WorkerProcess.Start(Env(lifetime: "2s"), _dir.Path, "run");

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        // A tenth of 2 s is the most a host retires early; the process's own start-up comes on top.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.8), $"exited after {clock.Elapsed}");
        Assert.Contains("Max lifetime reached", worker.Stderr);
    }

    [Fact]
    public async Task Job_running_at_retirement_finishes_before_the_worker_exits()
    {
        Drop(501); // queued before the worker starts, so it is running well before the worker retires
        await using var worker = WorkerProcess.Start(Env(lifetime: "3s", fakeRunSleep: "6s"), _dir.Path, "run");
        await worker.UntilAsync(() => IsIn(FileJobQueue.Started, 501), "job 501 started");

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("Max lifetime reached", worker.Stderr);
        Assert.Equal("passed", StateOf(501));
    }

    [Fact]
    public async Task Job_running_at_retirement_is_not_cut_off_at_the_shutdown_timeout()
    {
        // Nothing kills a retiring worker, so its jobs run to their end: a rollout by max lifetime kills no job,
        // even where SHUTDOWN_TIMEOUT is short to fit a stop window.
        Drop(502); // queued before the worker starts, so it is running well before the worker retires
        await using var worker = WorkerProcess.Start(Env(lifetime: "3s", fakeRunSleep: "6s", shutdownTimeout: "1s"), _dir.Path, "run");
        await worker.UntilAsync(() => IsIn(FileJobQueue.Started, 502), "job 502 started");

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("Max lifetime reached", worker.Stderr);
        Assert.Equal("passed", StateOf(502));
    }

    [Fact]
    public async Task Worker_without_a_max_lifetime_keeps_running()
    {
        await using var worker = WorkerProcess.Start(Env(lifetime: "0"), _dir.Path, "run");

        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.False(worker.HasExited, worker.Stderr);
        Assert.DoesNotContain("retires after", worker.Stderr);
    }

    [Fact]
    public async Task A_max_lifetime_that_is_not_a_duration_stops_start_up_naming_the_variable()
    {
        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(Env(lifetime: "a week"), _dir.Path, "run");

        Assert.Equal(2, exit);
        Assert.Contains("WORKER_MAX_LIFETIME=a week is not valid", stderr);
    }

    [Fact]
    public void Each_host_retires_at_most_a_tenth_before_its_lifetime_and_never_after()
    {
        var lifetime = TimeSpan.FromHours(24);
        var spreads = Enumerable.Range(0, 1000).Select(_ => Retirement.Spread(lifetime)).ToList();

        Assert.All(spreads, s => Assert.InRange(s, lifetime * 0.9, lifetime));
        Assert.True(spreads.Distinct().Count() > 900, "hosts started together retire at different times");
    }

    [Fact]
    public async Task Drain_over_http_makes_worker_run_exit_0_after_its_job_finishes()
    {
        var env = Env(lifetime: "0", fakeRunSleep: "2s");
        env["WORKER_HTTP_ADDR"] = "127.0.0.1:0";
        env["WORKER_HTTP_AUTH_TOKEN"] = "drain-me";
        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        await worker.UntilAsync(() => BoundAddress().IsMatch(worker.Stderr), "the HTTP server is bound");
        using var client = new HttpClient { BaseAddress = new Uri(BoundAddress().Match(worker.Stderr).Groups["url"].Value) };
        Drop(503);
        await worker.UntilAsync(() => IsIn(FileJobQueue.Started, 503), "job 503 started");
        var status = JsonNode.Parse(await client.GetStringAsync("/status"))!;
        Assert.Equal(503, status["processors"]![0]!["job_id"]!.GetValue<long>());

        using var drain = new HttpRequestMessage(HttpMethod.Post, "/drain");
        drain.Headers.Authorization = new("Bearer", "drain-me");
        using var response = await client.SendAsync(drain);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("passed", StateOf(503));
    }

    [GeneratedRegex(@"Health and control server on (?<url>http://[0-9.]+:\d+)")]
    private static partial Regex BoundAddress();
}
