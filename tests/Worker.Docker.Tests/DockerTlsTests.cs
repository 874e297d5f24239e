using Worker.Core.Configuration;

namespace Worker.Docker.Tests;

/// <summary>
/// WORKER_DOCKER_CERT_PATH, as travis-worker's CERT_PATH: the real engine on its mutual-TLS listener
/// (tests/start-dockerd.sh starts dockerd with --tlsverify on 127.0.0.1:2376).
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerTlsTests : IDisposable
{
    private static readonly Uri TlsEndpoint = new("tcp://127.0.0.1:2376");
    private static readonly string CertPath = Path.Combine(
        Environment.GetEnvironmentVariable("WORKER_TEST_DOCKER_TLS") is { Length: > 0 } dir ? dir : "/var/lib/worker-tests/docker-tls", "client");

    private readonly string _dir = Directory.CreateTempSubdirectory("worker-docker-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_job_runs_on_an_engine_reached_over_mutual_TLS()
    {
        RequireTlsListener();
        var options = DockerOptions.Load(SettingsSource.From(
            ("WORKER_DOCKER_ENDPOINT", TlsEndpoint.ToString()), ("TRAVIS_WORKER_DOCKER_CERT_PATH", CertPath)));
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = options.EndpointUri, TlsDirectory = options.TlsDirectory });

        var (job, _) = await harness.RunAsync("script: [\"echo over tls\"]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("over tls", job.Log);
    }

    [Fact]
    public async Task An_engine_whose_certificate_another_CA_signed_is_not_trusted_the_host_fails_not_the_job_and_nothing_is_created()
    {
        RequireTlsListener();
        var since = DateTimeOffset.UtcNow;
        var wrongCa = Path.Combine(_dir, "wrong-ca");
        Directory.CreateDirectory(wrongCa);
        File.Copy(Path.Combine(CertPath, "cert.pem"), Path.Combine(wrongCa, "cert.pem"));
        File.Copy(Path.Combine(CertPath, "key.pem"), Path.Combine(wrongCa, "key.pem"));
        File.WriteAllText(Path.Combine(wrongCa, "ca.pem"), TestCertificates.Create("another-ca").CaPem);
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = TlsEndpoint, TlsDirectory = wrongCa });

        var (job, verdict) = await harness.RunAsync("script: [\"echo should not run\"]");

        // No job can run on this host until its CERT_PATH is fixed: the job goes back to the queue, uncounted.
        Assert.Equal("requeued", await job.Outcome);
        Assert.Equal(Worker.Core.Jobs.HostSignal.Broken, verdict.Host);
        Assert.False(verdict.RequeueCounted);
        Assert.Contains("can't reach the Docker engine at tcp://127.0.0.1:2376: the TLS handshake failed", verdict.Message);
        Assert.Contains("remote certificate was rejected", verdict.Message);
        Assert.Contains("(check WORKER_DOCKER_CERT_PATH)", verdict.Message);
        Assert.Empty(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
    }

    [Theory]
    [InlineData("unix:///var/run/docker.sock", true)]
    [InlineData("tcp://127.0.0.1:2376", false)]
    public void A_cert_path_needs_a_tcp_endpoint_and_the_three_files(string endpoint, bool complete)
    {
        var certPath = Path.Combine(_dir, "partial");
        Directory.CreateDirectory(certPath);
        File.WriteAllText(Path.Combine(certPath, "ca.pem"), "");
        if (complete)
        {
            File.WriteAllText(Path.Combine(certPath, "cert.pem"), "");
            File.WriteAllText(Path.Combine(certPath, "key.pem"), "");
        }

        var e = Assert.Throws<InvalidSettingException>(() => DockerOptions.Load(SettingsSource.From(
            ("WORKER_DOCKER_ENDPOINT", endpoint), ("WORKER_DOCKER_CERT_PATH", certPath))));

        Assert.Equal("WORKER_DOCKER_CERT_PATH", e.Variable);
    }

    private static void RequireTlsListener() =>
        Assert.True(DockerOptions.TlsFiles.All(f => File.Exists(Path.Combine(CertPath, f))),
            $"no client certificate in {CertPath}: tests/start-dockerd.sh makes it and starts dockerd with its TLS listener " +
            "(a dockerd started otherwise must be stopped first)");
}
