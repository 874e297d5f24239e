using Worker.Core.Configuration;
using Worker.TestSupport;

namespace Worker.Docker.Tests;

/// <summary>WORKER_DOCKER_CERT_PATH: a tcp:// engine that requires mutual TLS, as travis-worker's CERT_PATH.</summary>
[Trait("Category", "Integration")]
public sealed class DockerTlsTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-docker-tls-").FullName;
    private TlsDockerProxy _engine = null!;

    public Task InitializeAsync()
    {
        _engine = new TlsDockerProxy();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _engine.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_job_runs_on_an_engine_reached_over_mutual_TLS()
    {
        var certPath = _engine.WriteCertPath(Path.Combine(_dir, "certs"));
        var options = DockerOptions.Load(SettingsSource.From(
            ("WORKER_DOCKER_ENDPOINT", _engine.Endpoint.ToString()), ("TRAVIS_WORKER_DOCKER_CERT_PATH", certPath)));
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = options.EndpointUri, TlsDirectory = options.TlsDirectory });

        var (job, _) = await harness.RunAsync("script: [\"echo over tls\"]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("over tls", job.Log);
        Assert.Equal(0, _engine.Refused);
    }

    [Fact]
    public async Task An_engine_whose_certificate_another_CA_signed_is_not_trusted_and_nothing_is_created()
    {
        var since = DateTimeOffset.UtcNow;
        var certPath = _engine.WriteCertPath(Path.Combine(_dir, "wrong-ca"), TestCertificates.Create("another-ca").CaPem);
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = _engine.Endpoint, TlsDirectory = certPath });

        var (job, verdict) = await harness.RunAsync("script: [\"echo should not run\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("remote certificate was rejected", verdict.Message);
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
}
