using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;

namespace Worker.Amqp.Tests;

/// <summary>amqps:// to a real RabbitMQ: the broker's certificate is checked against WORKER_AMQP_TLS_CA_PATH.</summary>
[Trait("Category", "Integration")]
public sealed class AmqpTlsTests(TlsRabbitMqBroker broker) : IClassFixture<TlsRabbitMqBroker>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_worker_on_amqps_trusting_the_brokers_CA_runs_a_job_end_to_end()
    {
        var queue = $"builds.tls-{Guid.NewGuid().ToString("N")[..8]}";
        var ca = await WriteAsync("ca.pem", broker.Certificates.CaPem);
        await using var tap = await ReportingTap.CreateAsync(broker.PlainUri);
        await using var worker = await InProcessWorker.StartAsync(broker.TlsUri, queue, ("PROVIDER_NAME", "fake"), ("AMQP_TLS_CA_PATH", ca));
        var payload = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.PlainUri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        Assert.Equal(["received", "started", "passed"], seen.Where(m => m.IsState).Select(m => m.State));
        Assert.True(worker.Queue.IsConnected);
        Assert.Equal("amqps", worker.Queue.Options.Uri.Scheme);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_broker_is_connected_to_only_when_its_certificate_chains_to_the_configured_CA(bool rightCa)
    {
        var ca = rightCa
            ? await WriteAsync("ca.pem", broker.Certificates.CaPem)
            : await WriteAsync("other-ca.pem", TestCertificates.Create("some-other-ca").CaPem);
        var options = new AmqpOptions { Uri = broker.TlsUri, CaPath = ca, RecoveryInterval = TimeSpan.FromMilliseconds(200) };
        await using var queue = new AmqpJobQueue(options, $"builds.tls-{Guid.NewGuid().ToString("N")[..8]}", new JobCancellations(), NullLoggerFactory.Instance);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(5));

        var connecting = queue.StartAsync(patience.Token);
        if (rightCa)
        {
            await connecting;
        }
        else
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting);
        }

        Assert.Equal(rightCa, queue.IsConnected);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_ca_given_inline_as_travis_workers_amqp_tls_cert_is_trusted_as_a_ca_file_is(bool rightCa)
    {
        var pem = rightCa ? broker.Certificates.CaPem : TestCertificates.Create("some-other-ca").CaPem;

        Assert.Equal(rightCa, await ConnectsAsync(new AmqpOptions { Uri = broker.TlsUri, CaPem = pem }));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Travis_workers_amqp_insecure_connects_to_a_broker_whose_ca_is_not_known_and_without_it_nothing_does(bool insecure) =>
        Assert.Equal(insecure, await ConnectsAsync(new AmqpOptions { Uri = broker.TlsUri, InsecureTls = insecure }));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_logs_broker_is_trusted_by_its_own_ca_when_one_is_given_and_the_job_brokers_is_not_asked(bool rightLogsCa)
    {
        var jobBrokersCa = await WriteAsync("ca.pem", broker.Certificates.CaPem);
        var logsCa = rightLogsCa ? broker.Certificates.CaPem : TestCertificates.Create("some-other-ca").CaPem;
        var options = new AmqpOptions { Uri = broker.PlainUri, CaPath = jobBrokersCa, LogsUri = broker.TlsUri, LogsCaPem = logsCa };

        Assert.Equal(rightLogsCa, await ConnectsAsync(options));
    }

    [Fact]
    public async Task A_worker_given_the_brokers_ca_inline_on_one_line_as_an_env_file_holds_it_runs_a_job_end_to_end()
    {
        var queue = $"builds.tls-{Guid.NewGuid().ToString("N")[..8]}";
        await using var tap = await ReportingTap.CreateAsync(broker.PlainUri);
        await using var worker = await InProcessWorker.StartAsync(broker.TlsUri, queue, ("PROVIDER_NAME", "fake"),
            ("AMQP_TLS_CERT", broker.Certificates.CaPem.ReplaceLineEndings("\\n")));
        var payload = Broker.Job("script: [\"true\"]", queue);
        await Broker.EnqueueAsync(broker.PlainUri, queue, payload);

        var seen = await tap.FinishedAsync(payload.JobId, Patience);

        Assert.Equal(["received", "started", "passed"], seen.Where(m => m.IsState).Select(m => m.State));
    }

    /// <summary>Whether a queue with these options connects (its job broker and, when set, its logs broker) within 5 s.</summary>
    private static async Task<bool> ConnectsAsync(AmqpOptions options)
    {
        await using var queue = new AmqpJobQueue(options with { RecoveryInterval = TimeSpan.FromMilliseconds(200) },
            $"builds.tls-{Guid.NewGuid().ToString("N")[..8]}", new JobCancellations(), NullLoggerFactory.Instance);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await queue.StartAsync(patience.Token);
        }
        catch (OperationCanceledException)
        {
        }
        return queue.IsConnected;
    }

    private async Task<string> WriteAsync(string name, string pem)
    {
        var path = Path.Combine(_dir, name);
        await File.WriteAllTextAsync(path, pem);
        return path;
    }
}
