using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Worker.Cirrus.Api;
using Worker.Cirrus.Config;
using Worker.Cirrus.Session;
using Worker.Cirrus.Tests.Fakes;
using Worker.Core.Security;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

public class UpstreamClientTests
{
    private static readonly RetryPolicy NoRetries = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10), TimeSpan.Zero);

    [Theory]
    [InlineData("http://127.0.0.1:8080", "127.0.0.1:8080", true)]
    [InlineData("unix:/run/cirrus.sock", "unix:/run/cirrus.sock", true)]
    [InlineData("https://grpc.cirrus-ci.com:443", "grpc.cirrus-ci.com:443", false)]
    [InlineData("grpc.cirrus-ci.com:443", "grpc.cirrus-ci.com:443", false)]
    public void Http_and_unix_endpoints_are_plaintext_and_anything_else_is_tls(string endpoint, string target, bool plaintext)
    {
        Assert.Equal((target, plaintext), CirrusChannels.TransportOf(endpoint));
    }

    [Theory]
    [InlineData("unix:/run/cirrus.sock", "/run/cirrus.sock")]
    [InlineData("unix:///run/cirrus.sock", "/run/cirrus.sock")]
    [InlineData("unix:cirrus.sock", "cirrus.sock")]
    public void Unix_targets_name_their_socket_in_grpcs_forms(string target, string path)
    {
        Assert.Equal(path, CirrusChannels.SocketPath(target));
    }

    [Fact]
    public async Task A_tls_endpoint_is_reached_over_tls_and_not_in_plaintext()
    {
        var certificates = TestCertificates.Create();
        await using var server = await FakeCirrusServer.StartTlsAsync(certificates);
        using var ca = X509Certificate2.CreateFromPem(certificates.CaPem);

        using var client = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries, validateServer: PinnedCaTrust.For(ca));
        await client.RegisterAsync(new WorkerInfo(), CancellationToken.None);
        Assert.True(client.IsRegistered);

        var port = new Uri(server.Endpoint).Port;
        using var plaintext = new CirrusUpstreamClient("w", new CirrusUpstream("t", $"http://localhost:{port}"), NoRetries);
        await Assert.ThrowsAsync<RpcException>(() => plaintext.RegisterAsync(new WorkerInfo(), CancellationToken.None));
        Assert.Single(server.Service.CallsTo("Register"));
    }

    [Fact]
    public async Task A_tls_endpoint_that_speaks_only_tls_1_2_is_reached()
    {
        // What the client negotiates on macOS (Tart hosts): .NET's TLS 1.3 there needs Network.framework.
        var certificates = TestCertificates.Create();
        await using var server = await FakeCirrusServer.StartTlsAsync(certificates, SslProtocols.Tls12);
        using var ca = X509Certificate2.CreateFromPem(certificates.CaPem);
        using var client = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries, validateServer: PinnedCaTrust.For(ca));

        await client.RegisterAsync(new WorkerInfo(), CancellationToken.None);

        Assert.True(client.IsRegistered);
    }

    [Fact]
    public void Tls_is_1_2_or_1_3_and_nothing_older()
    {
        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, CirrusChannels.TlsVersions);
    }

    [Fact]
    public async Task A_tls_endpoint_whose_certificate_is_not_trusted_is_refused()
    {
        await using var server = await FakeCirrusServer.StartTlsAsync(TestCertificates.Create());
        using var client = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries);

        await Assert.ThrowsAsync<RpcException>(() => client.RegisterAsync(new WorkerInfo(), CancellationToken.None));
        Assert.Empty(server.Service.Calls);
    }

    [Fact]
    public async Task A_unix_socket_endpoint_works_in_plaintext()
    {
        var socket = Path.Combine(Directory.CreateTempSubdirectory("cirrus-sock-").FullName, "cirrus.sock");
        await using var server = await FakeCirrusServer.StartOnUnixSocketAsync(socket);
        using var client = new CirrusUpstreamClient("w", new CirrusUpstream("t", "unix://" + socket), NoRetries);

        await client.RegisterAsync(new WorkerInfo(), CancellationToken.None);
        await client.PollAsync(() => new PollRequest(), CancellationToken.None);

        Assert.Equal(["Register", "Poll"], server.Service.Methods);
    }

    [Theory]
    [InlineData(0u, 10u)]
    [InlineData(1u, 1u)]
    [InlineData(3600u, 3600u)]
    [InlineData(3601u, 10u)]
    public async Task The_poll_interval_is_the_servers_when_it_is_1_to_3600_seconds_else_10(uint answered, uint used)
    {
        await using var server = await FakeCirrusServer.StartAsync();
        server.Service.PollIntervalSeconds = answered;
        using var client = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries);
        await client.RegisterAsync(new WorkerInfo(), CancellationToken.None);

        await client.PollAsync(() => new PollRequest(), CancellationToken.None);

        Assert.Equal(used, client.PollIntervalSeconds);
    }

    [Fact]
    public async Task A_server_still_unavailable_when_the_retries_give_up_is_an_error()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        server.Service.Fail("Register", 1000);
        // The give-up time counts from the first attempt, whose connection took over 300 ms on a loaded CI machine.
        using var client = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint),
            new RetryPolicy(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(2)));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.RegisterAsync(new WorkerInfo(), CancellationToken.None));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.True(server.Service.CallsTo("Register").Count > 1, "retried before giving up");
    }

    [Fact]
    public void Backoff_grows_to_its_maximum_with_jitter_in_its_upper_half()
    {
        var policy = new RetryPolicy(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8), TimeSpan.FromMinutes(1));
        var random = new Random(7);
        var delays = Enumerable.Range(1, 200).Select(attempt => (attempt, delay: policy.Delay(Math.Min(attempt, 6), random))).ToList();

        Assert.All(delays.Where(d => d.attempt == 1), d => Assert.InRange(d.delay.TotalMilliseconds, 500, 1000));
        Assert.All(delays.Where(d => d.attempt >= 5), d => Assert.InRange(d.delay.TotalMilliseconds, 4000, 8000));
        Assert.True(delays.Where(d => d.attempt >= 6).Select(d => d.delay).Distinct().Count() > 10, "waits are spread, not equal");
    }

    [Fact]
    public async Task Pause_sends_update_status_without_a_session_and_wait_returns_when_no_task_runs()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        using var worker = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries);
        await worker.RegisterAsync(new WorkerInfo(), CancellationToken.None);
        var task = new TaskRef("77", "secret");
        await worker.TaskStartedAsync(task, CancellationToken.None);

        using var pause = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries);
        await CirrusPause.SetDisabledAsync(pause, disabled: true, CancellationToken.None);
        var waiting = CirrusPause.WaitUntilIdleAsync(pause, TimeSpan.FromMilliseconds(20), CancellationToken.None);
        await Eventually.TrueAsync(() => server.Service.CallsTo("QueryRunningTasks").Count >= 2, "pause --wait asked twice");
        Assert.False(waiting.IsCompleted);

        await worker.TaskStoppedAsync(task, CancellationToken.None);
        await waiting.WaitAsync(Eventually.DefaultPatience);

        Assert.True(server.Service.Disabled);
        var update = server.Service.CallsTo("UpdateStatus").Single();
        Assert.Equal("", update.Header("session-token"));
        Assert.Equal("t", update.Header("registration-token"));
        Assert.Equal("w", update.Header("worker-name"));
        Assert.Equal(new QueryRunningTasksRequest(), server.Service.CallsTo("QueryRunningTasks")[0].Request);

        await CirrusPause.SetDisabledAsync(pause, disabled: false, CancellationToken.None);
        Assert.False(server.Service.Disabled);
    }

    [Fact]
    public async Task Disabling_for_a_drain_says_whether_it_disabled_the_worker_or_found_it_paused()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        using var worker = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries);

        Assert.True(await CirrusPause.DisableUnlessDisabledAsync(worker, CancellationToken.None));
        Assert.True(server.Service.Disabled);
        Assert.False(await CirrusPause.DisableUnlessDisabledAsync(worker, CancellationToken.None));
        Assert.Single(server.Service.CallsTo("UpdateStatus"));

        // A Cirrus that does not tell the status: disabled and counted as the drain's, as before.
        await CirrusPause.SetDisabledAsync(worker, disabled: false, CancellationToken.None);
        server.Service.Fail("QueryRunningTasks", 1, StatusCode.Internal);
        Assert.True(await CirrusPause.DisableUnlessDisabledAsync(worker, CancellationToken.None));
        Assert.True(server.Service.Disabled);
    }

    [Fact]
    public async Task Pause_ignores_a_worker_cirrus_does_not_know_and_refuses_a_status_it_did_not_take()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        using var pause = new CirrusUpstreamClient("w", new CirrusUpstream("t", server.Endpoint), NoRetries);

        server.Service.UnknownWorker = true;
        await CirrusPause.SetDisabledAsync(pause, disabled: true, CancellationToken.None);

        server.Service.UnknownWorker = false;
        server.Service.IgnoreStatusUpdates = true;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CirrusPause.SetDisabledAsync(pause, disabled: true, CancellationToken.None));
        Assert.Contains("asked disabled=true, got false", error.Message, StringComparison.Ordinal);
    }
}
