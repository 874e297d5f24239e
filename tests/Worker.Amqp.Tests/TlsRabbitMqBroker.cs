using System.Text;
using DotNet.Testcontainers.Configurations;
using Testcontainers.RabbitMq;

namespace Worker.Amqp.Tests;

/// <summary>
/// A real RabbitMQ that also listens for AMQP over TLS (5671), with a certificate from a throwaway
/// CA: <see cref="TlsUri"/> for the worker, <see cref="PlainUri"/> for the test's own publishing.
/// </summary>
public sealed class TlsRabbitMqBroker : IAsyncLifetime
{
    private const int TlsPort = 5671;
    private RabbitMqContainer? _container;

    public TestCertificates Certificates { get; } = TestCertificates.Create();

    public Uri PlainUri { get; private set; } = null!;

    public Uri TlsUri { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var tlsPort = RabbitMqBroker.FreePort();
        const string config = """
            listeners.ssl.default = 5671
            ssl_options.cacertfile = /etc/rabbitmq/tls/ca.pem
            ssl_options.certfile = /etc/rabbitmq/tls/server.pem
            ssl_options.keyfile = /etc/rabbitmq/tls/server.key
            ssl_options.verify = verify_none
            ssl_options.fail_if_no_peer_cert = false
            """;
        var readable = UnixFileModes.UserRead | UnixFileModes.UserWrite | UnixFileModes.GroupRead | UnixFileModes.OtherRead;
        _container = new RabbitMqBuilder(RabbitMqBroker.Image)
            .WithPortBinding(tlsPort, TlsPort)
            .WithResourceMapping(Encoding.UTF8.GetBytes(config), "/etc/rabbitmq/rabbitmq.conf", fileMode: readable)
            .WithResourceMapping(Encoding.UTF8.GetBytes(Certificates.CaPem), "/etc/rabbitmq/tls/ca.pem", fileMode: readable)
            .WithResourceMapping(Encoding.UTF8.GetBytes(Certificates.ServerPem), "/etc/rabbitmq/tls/server.pem", fileMode: readable)
            .WithResourceMapping(Encoding.UTF8.GetBytes(Certificates.ServerKeyPem), "/etc/rabbitmq/tls/server.key", fileMode: readable)
            .Build();
        await _container.StartAsync();
        PlainUri = new Uri(_container.GetConnectionString());
        TlsUri = new UriBuilder(PlainUri) { Scheme = "amqps", Host = "localhost", Port = tlsPort }.Uri;
    }

    public async Task DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
