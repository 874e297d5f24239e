using Worker.Core.Backends;
using Worker.Core.Jobs;

namespace Worker.Docker.Tests;

/// <summary>
/// What fails every job on this host (no engine, an unknown network) is a host failure naming the
/// thing; the probe is a ping and a look at the jobs' network, so an engine that answers pings but
/// nothing else (a deadlocked dockerd) or a missing network keeps the host out.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerHostFailureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-docker-down-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_job_on_a_host_whose_engine_socket_is_missing_is_requeued_uncounted_naming_the_socket_and_the_settings()
    {
        var endpoint = new Uri($"unix://{_dir}/docker.sock");
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = endpoint });

        var (job, verdict) = await harness.RunAsync("script: [\"echo never\"]");

        Assert.Equal(HostSignal.Broken, verdict.Host);
        Assert.False(verdict.RequeueCounted);
        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains($"can't reach the Docker engine at {endpoint}: no socket at {_dir}/docker.sock (set WORKER_DOCKER_ENDPOINT or DOCKER_HOST)", job.Log);
    }

    [Fact]
    public async Task The_probe_pings_the_engine_and_fails_as_a_host_failure_while_nothing_listens()
    {
        var socket = Path.Combine(_dir, "docker.sock");
        File.WriteAllText(socket, ""); // a file where the socket should be: nothing accepts a connection there
        await using var down = await DockerHarness.CreateAsync(o => o with { EndpointUri = new Uri($"unix://{socket}") });
        await using var up = await DockerHarness.CreateAsync();

        var failure = await Assert.ThrowsAsync<BackendFailureException>(() => down.Backend.ProbeAsync(CancellationToken.None));
        await up.Backend.ProbeAsync(CancellationToken.None);

        Assert.Equal(FailureKind.Host, failure.Kind);
        Assert.Contains($"can't reach the Docker engine at unix://{socket}: connection refused", failure.Message);
        Assert.Equal($"a ping of the Docker engine at unix://{socket} and a look at the network its jobs join", down.Backend.ProbeDescription);
    }

    [Fact]
    public async Task The_probe_does_not_pass_an_engine_that_answers_pings_but_hangs_on_its_networks_as_a_deadlocked_dockerd_does()
    {
        var socket = Path.Combine(_dir, "docker.sock");
        await using var engine = DeadlockedEngine.Start(socket);
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = new Uri($"unix://{socket}") });
        using var probeTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => harness.Backend.ProbeAsync(probeTimeout.Token));

        Assert.Contains(engine.Requests, r => r.Contains("/_ping", StringComparison.Ordinal));
        Assert.Contains(engine.Requests, r => r.Contains("/networks", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("default")]
    [InlineData("bridge")]
    [InlineData("host")]
    [InlineData("none")]
    public async Task The_probe_passes_for_the_engines_own_networks_and_modes(string network)
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { NetworkName = network });

        await harness.Backend.ProbeAsync(CancellationToken.None);
    }

    [Fact]
    public async Task The_probe_fails_while_the_network_the_jobs_join_is_missing_and_passes_once_it_is_there()
    {
        var name = "probe-net-" + Guid.NewGuid().ToString("N")[..8];
        await using var harness = await DockerHarness.CreateAsync(o => o with { NetworkName = name });
        using var client = DockerEngine.Client();

        var failure = await Assert.ThrowsAsync<BackendFailureException>(() => harness.Backend.ProbeAsync(CancellationToken.None));
        Assert.Equal(FailureKind.Host, failure.Kind);
        Assert.Contains("WORKER_DOCKER_NETWORK names a network the Docker engine at", failure.Message);

        var created = await client.Networks.CreateNetworkAsync(new global::Docker.DotNet.Models.NetworksCreateParameters { Name = name });
        try
        {
            await harness.Backend.ProbeAsync(CancellationToken.None);
        }
        finally
        {
            await client.Networks.DeleteNetworkAsync(created.ID);
        }
    }

    [Fact]
    public async Task A_network_the_engine_does_not_know_is_the_hosts_failure_not_the_jobs()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { NetworkName = "no-such-network-" + Guid.NewGuid().ToString("N")[..8] });

        var (job, verdict) = await harness.RunAsync("script: [\"echo never\"]");

        Assert.Equal(HostSignal.Broken, verdict.Host);
        Assert.Contains("WORKER_DOCKER_NETWORK names a network the Docker engine at", job.Log);
    }
}
