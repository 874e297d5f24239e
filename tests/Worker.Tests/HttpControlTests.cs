using System.Net;
using System.Text;

namespace Worker.Tests;

/// <summary>PUT /pool and POST /drain: only with the configured bearer token, and off when there is none.</summary>
public sealed class HttpControlTests
{
    [Fact]
    public async Task Pool_resize_with_the_right_token_grows_and_shrinks_the_pool()
    {
        await using var worker = await HttpHarness.StartAsync();

        using var grow = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", HttpHarness.Token, new { size = 3 }));
        Assert.Equal(HttpStatusCode.OK, grow.StatusCode);
        Assert.Equal(3, worker.Pool.Size);
        await Eventually.TrueAsync(() => worker.Pool.Statuses.Count == 3, "three processors run");

        using var shrink = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", HttpHarness.Token, new { size = 1 }));
        Assert.Equal(HttpStatusCode.OK, shrink.StatusCode);
        await Eventually.TrueAsync(() => worker.Pool.Statuses.Count == 1, "one processor is left");
        Assert.Equal(1, (await worker.StatusAsync())["pool_size"]!.GetValue<int>());
    }

    [Fact]
    public async Task Pool_resize_to_zero_pauses_the_pool_without_stopping_it()
    {
        await using var worker = await HttpHarness.StartAsync();

        using var pause = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", HttpHarness.Token, new { size = 0 }));

        Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        await Eventually.TrueAsync(() => worker.Pool.Statuses.Count == 0, "no processor runs");
        Assert.False(worker.Stopped.IsCompleted);
    }

    [Fact]
    public async Task Pool_resize_without_an_authorization_header_is_refused_with_401()
    {
        await using var worker = await HttpHarness.StartAsync();

        using var response = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", body: new { size = 5 }));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(1, worker.Pool.Size);
    }

    [Fact]
    public async Task Pool_resize_with_a_wrong_token_is_refused_with_403()
    {
        await using var worker = await HttpHarness.StartAsync();

        using var response = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", "not-the-token", new { size = 5 }));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(1, worker.Pool.Size);
    }

    [Fact]
    public async Task Pool_resize_with_basic_auth_instead_of_a_bearer_token_is_refused()
    {
        await using var worker = await HttpHarness.StartAsync();
        var request = HttpHarness.Request(HttpMethod.Put, "/pool", body: new { size = 5 });
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("worker:" + HttpHarness.Token)));

        using var response = await worker.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(1, worker.Pool.Size);
    }

    [Theory]
    [InlineData("{\"size\": -1}")]
    [InlineData("{\"size\": 1001}")]
    [InlineData("{}")]
    [InlineData("three")]
    [InlineData("")]
    public async Task Pool_resize_with_a_body_that_is_not_a_size_from_0_to_1000_is_a_400(string body)
    {
        await using var worker = await HttpHarness.StartAsync();

        using var response = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", HttpHarness.Token,
            new StringContent(body, Encoding.UTF8, "application/json")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("size", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, worker.Pool.Size);
    }

    [Fact]
    public async Task Control_endpoints_are_off_without_a_configured_token_even_for_a_bearer()
    {
        await using var worker = await HttpHarness.StartAsync(token: null);

        using var resize = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", "anything", new { size = 4 }));
        using var drain = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Post, "/drain", "anything"));
        using var anonymous = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Post, "/drain"));

        Assert.Equal(HttpStatusCode.NotFound, resize.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, drain.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, anonymous.StatusCode);
        Assert.Equal(1, worker.Pool.Size);
        Assert.False(worker.Pool.Draining);
    }

    [Fact]
    public async Task Drain_with_the_right_token_lets_the_running_job_finish_then_stops_the_pool()
    {
        await using var worker = await HttpHarness.StartAsync(fakeRun: TimeSpan.FromSeconds(1));
        var job = worker.Enqueue(11);
        await Eventually.TrueAsync(() => worker.Pool.Statuses.Any(s => s.JobId == 11), "job 11 runs");

        using var response = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Post, "/drain", HttpHarness.Token));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.True((await worker.StatusAsync())["draining"]!.GetValue<bool>());
        var waiting = worker.Enqueue(12);

        await worker.Stopped.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal("passed", await job.Outcome);
        Assert.False(waiting.Outcome.IsCompleted);
    }

    [Fact]
    public async Task Drain_whose_timeout_ends_requeues_the_running_job()
    {
        await using var worker = await HttpHarness.StartAsync(fakeRun: TimeSpan.FromSeconds(60), drainTimeout: TimeSpan.FromMilliseconds(300));
        var job = worker.Enqueue(13);
        await Eventually.TrueAsync(() => worker.Pool.Statuses.Any(s => s.JobId == 13), "job 13 runs");

        using var response = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Post, "/drain", HttpHarness.Token));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await worker.Stopped.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal("requeued", await job.Outcome);
    }

    [Fact]
    public async Task Drain_with_a_wrong_token_is_refused_and_the_pool_keeps_running()
    {
        await using var worker = await HttpHarness.StartAsync();

        using var wrong = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Post, "/drain", HttpHarness.Token + "x"));
        using var none = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Post, "/drain"));

        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.False(worker.Pool.Draining);
        Assert.False(worker.Stopped.IsCompleted);
    }

    [Fact]
    public async Task Pool_resize_while_draining_is_a_409()
    {
        await using var worker = await HttpHarness.StartAsync(fakeRun: TimeSpan.FromSeconds(30));
        worker.Enqueue(14);
        await Eventually.TrueAsync(() => worker.Pool.Statuses.Any(s => s.JobId == 14), "job 14 runs");
        _ = worker.Pool.DrainAsync(TimeSpan.FromSeconds(30));

        using var response = await worker.Client.SendAsync(HttpHarness.Request(HttpMethod.Put, "/pool", HttpHarness.Token, new { size = 4 }));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }
}
