using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Composition;
using Worker.Core.Queues;

namespace Worker.Tests;

/// <summary>/healthz, /readyz and /status: open to anyone who reaches the address, and never change anything.</summary>
public sealed class HttpHealthTests
{
    [Fact]
    public async Task Healthz_answers_ok_while_the_worker_is_alive()
    {
        await using var worker = await HttpHarness.StartAsync();

        using var response = await worker.Client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", (await response.Content.ReadAsStringAsync()).Trim());
    }

    [Fact]
    public async Task Readyz_answers_ok_while_the_pool_runs_and_the_queue_is_connected()
    {
        await using var worker = await HttpHarness.StartAsync();

        using var response = await worker.Client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(body["ready"]!.GetValue<bool>());
        Assert.Empty(body["reasons"]!.AsArray());
    }

    [Fact]
    public async Task Readyz_answers_503_while_draining_and_healthz_stays_ok()
    {
        await using var worker = await HttpHarness.StartAsync(fakeRun: TimeSpan.FromSeconds(30));
        var job = worker.Enqueue(7);
        await Eventually.TrueAsync(() => worker.Pool.Statuses.Any(s => s.JobId == 7), "job 7 runs");

        _ = worker.Pool.DrainAsync(TimeSpan.FromSeconds(30));
        using var ready = await worker.Client.GetAsync("/readyz");
        using var healthy = await worker.Client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("the pool is draining", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.False(job.Outcome.IsCompleted);
    }

    [Fact]
    public async Task Readyz_answers_503_when_the_queue_is_not_connected()
    {
        using var dir = new TempDirectory();
        await using var worker = await HttpHarness.StartAsync(queue: context =>
            new FileJobQueue(dir.Path, "builds.test", TimeSpan.FromMilliseconds(50), context.Cancellations,
                NullLogger<FileJobQueue>.Instance));
        using (var before = await worker.Client.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        // The file queue is connected while its folder exists (e.g. a mounted volume that went away).
        Directory.Delete(Path.Combine(dir.Path, "builds.test"), recursive: true);
        using var after = await worker.Client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, after.StatusCode);
        Assert.Contains("queue builds.test is not connected", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Status_shows_the_pool_size_and_each_processors_job_and_current_step()
    {
        await using var worker = await HttpHarness.StartAsync(fakeRun: TimeSpan.FromSeconds(30), poolSize: 2);
        worker.Enqueue(4242);
        await Eventually.TrueAsync(
            () => worker.Pool.Statuses.Any(s => s.JobId == 4242 && s.Step == Core.Pipeline.JobSteps.RunScript), "job 4242 runs its script");

        var status = await worker.StatusAsync();

        Assert.Equal("test-host", status["host"]!.GetValue<string>());
        Assert.Equal(2, status["pool_size"]!.GetValue<int>());
        Assert.True(status["running"]!.GetValue<bool>());
        Assert.False(status["draining"]!.GetValue<bool>());
        Assert.True(status["queue_connected"]!.GetValue<bool>());
        var processors = status["processors"]!.AsArray().Select(p => p!.AsObject()).ToList();
        Assert.Equal(2, processors.Count);
        Assert.All(processors, p => Assert.StartsWith("processor-", p["id"]!.GetValue<string>()));
        var busy = Assert.Single(processors, p => p["job_id"] is not null);
        Assert.Equal(4242, busy["job_id"]!.GetValue<long>());
        Assert.Equal("running the script", busy["step"]!.GetValue<string>());
        var idle = Assert.Single(processors, p => p["job_id"] is null);
        Assert.Equal("waiting for a job", idle["step"]!.GetValue<string>());
    }

    [Fact]
    public async Task Status_is_open_without_a_token_and_does_not_change_the_pool()
    {
        await using var worker = await HttpHarness.StartAsync(token: null);

        var status = await worker.StatusAsync();

        Assert.Equal(1, status["pool_size"]!.GetValue<int>());
        Assert.Equal(1, worker.Pool.Size);
        Assert.False(worker.Pool.Draining);
    }

    [Fact]
    public void The_http_settings_are_in_the_catalog_and_the_token_is_a_secret()
    {
        Assert.NotNull(SettingsCatalog.Find("HTTP_ADDR"));
        Assert.NotNull(SettingsCatalog.Find("MAX_LIFETIME"));
        Assert.True(SettingsCatalog.Find("HTTP_AUTH_TOKEN")!.Secret);
    }
}
