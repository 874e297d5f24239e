using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Networks;
using Testcontainers.RabbitMq;

namespace Worker.Tests;

/// <summary>
/// A RabbitMQ container (image WORKER_TEST_RABBITMQ_IMAGE, default worker-rabbitmq:bookworm) on a
/// network of its own, shared by the tests of one class: worker containers join the network and
/// reach it as <see cref="Alias"/>; this host reaches it on a published loopback port.
/// </summary>
public sealed class ContainerAmqpBroker : IAsyncLifetime
{
    public const string Alias = "broker";

    private INetwork? _network;
    private RabbitMqContainer? _broker;

    private static string Image => Environment.GetEnvironmentVariable("WORKER_TEST_RABBITMQ_IMAGE") is { Length: > 0 } image
        ? image
        : "worker-rabbitmq:bookworm";

    public string NetworkName => _network?.Name ?? throw new InvalidOperationException("the network is not created");

    /// <summary>The broker as this host reaches it.</summary>
    public Uri HostUri => new((_broker ?? throw new InvalidOperationException("the broker is not started")).GetConnectionString());

    /// <summary>The same broker as a container on <see cref="NetworkName"/> reaches it.</summary>
    public Uri ContainerUri => new UriBuilder(HostUri) { Host = Alias, Port = RabbitMqBuilder.RabbitMqPort }.Uri;

    public async Task InitializeAsync()
    {
        _network = new NetworkBuilder().WithName(ContainerCli.UniqueName("net")).Build();
        await _network.CreateAsync();
        _broker = new RabbitMqBuilder(Image).WithNetwork(_network).WithNetworkAliases(Alias).Build();
        await _broker.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
        if (_network is not null)
        {
            await _network.DeleteAsync();
        }
    }
}
