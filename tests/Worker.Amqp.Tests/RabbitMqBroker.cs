using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DotNet.Testcontainers.Builders;
using Testcontainers.RabbitMq;

namespace Worker.Amqp.Tests;

/// <summary>
/// A real RabbitMQ in a container (image from WORKER_TEST_RABBITMQ_IMAGE, default
/// worker-rabbitmq:bookworm), one per test class. Its host port is fixed when the container is
/// made, so a restart keeps the address and the worker has to reconnect to the same broker.
/// Missing Docker or image fails the tests; nothing is skipped.
/// </summary>
public sealed class RabbitMqBroker : IAsyncLifetime
{
    private RabbitMqContainer? _container;

    public static string Image => Environment.GetEnvironmentVariable("WORKER_TEST_RABBITMQ_IMAGE") is { Length: > 0 } image
        ? image
        : "worker-rabbitmq:bookworm";

    public Uri Uri { get; private set; } = null!;

    public RabbitMqContainer Container => _container ?? throw new InvalidOperationException("the broker is not started");

    public async Task InitializeAsync()
    {
        var port = FreePort();
        _container = new RabbitMqBuilder(Image)
            .WithPortBinding(port, RabbitMqBuilder.RabbitMqPort)
            .Build();
        await _container.StartAsync();
        Uri = new Uri(_container.GetConnectionString());
    }

    /// <summary>Stops the whole broker (its node, not just connections) and starts it again on the same port.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        await Container.StopAsync();
        await Task.Delay(down);
        await Container.StartAsync();
        Uri = new Uri(Container.GetConnectionString());
    }

    public async Task<string> CtlAsync(params string[] args)
    {
        var result = await Container.ExecAsync(["rabbitmqctl", .. args]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} failed: {result.Stderr}");
        }
        return result.Stdout;
    }

    /// <summary>
    /// Fails the test, saying why, unless the broker has <paramref name="plugin"/> enabled: the image
    /// built by docker/build-local-images.sh enables the plugins the tests need.
    /// </summary>
    public async Task RequirePluginAsync(string plugin)
    {
        if (!(await EnabledPluginsAsync()).Contains(plugin))
        {
            Assert.Fail($"the test broker (image {Image}) does not have the {plugin} plugin enabled; " +
                "build the image with docker/build-local-images.sh, which enables it");
        }
    }

    /// <summary>Disables a plugin on the running broker, for a test of a broker that lacks it; fails the test unless it is then off.</summary>
    public async Task DisablePluginAsync(string plugin)
    {
        await PluginsAsync("disable", plugin);
        Assert.DoesNotContain(plugin, await EnabledPluginsAsync());
    }

    public async Task<IReadOnlyList<string>> EnabledPluginsAsync() =>
        (await PluginsAsync("list", "--enabled", "--minimal", "--silent"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private async Task<string> PluginsAsync(params string[] args)
    {
        var result = await Container.ExecAsync(["rabbitmq-plugins", .. args]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmq-plugins {string.Join(' ', args)} failed: {result.Stderr}{result.Stdout}");
        }
        return result.Stdout;
    }

    /// <summary>A queue's messages ready and unacknowledged, and its consumers, as <c>rabbitmqctl list_queues</c> says (null: no such queue).</summary>
    public async Task<QueueCounts?> CountsAsync(string queue)
    {
        var listed = await CtlAsync("list_queues", "-q", "name", "messages_ready", "messages_unacknowledged", "consumers");
        var line = listed.Split('\n').Select(l => l.Split('\t')).FirstOrDefault(f => f.Length == 4 && f[0] == queue);
        return line is null
            ? null
            : new QueueCounts(
                int.Parse(line[1].Trim(), CultureInfo.InvariantCulture),
                int.Parse(line[2].Trim(), CultureInfo.InvariantCulture),
                int.Parse(line[3].Trim(), CultureInfo.InvariantCulture));
    }

    public async Task DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
