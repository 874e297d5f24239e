using System.Net;
using System.Net.Sockets;
using RabbitMQ.Client;
using Testcontainers.RabbitMq;

namespace Worker.Chaos;

/// <summary>
/// A RabbitMQ of the suite's own (image WORKER_TEST_RABBITMQ_IMAGE), on a host port fixed when it is
/// made, so a restart keeps its address and the workers must reconnect to the same broker.
/// </summary>
internal sealed class ChaosBroker : IAsyncDisposable
{
    private readonly RabbitMqContainer _container;

    private ChaosBroker(RabbitMqContainer container, int port)
    {
        _container = container;
        Port = port;
    }

    public int Port { get; }
    public Uri Uri => new(_container.GetConnectionString());

    /// <summary>The broker's address as seen through a relay at <paramref name="host"/>:<paramref name="port"/>.</summary>
    public Uri Via(string host, int port) => new UriBuilder(Uri) { Host = host, Port = port }.Uri;

    public static async Task<ChaosBroker> StartAsync()
    {
        var image = Environment.GetEnvironmentVariable("WORKER_TEST_RABBITMQ_IMAGE") is { Length: > 0 } i ? i : "worker-rabbitmq:bookworm";
        var port = FreePort();
        var container = new RabbitMqBuilder(image).WithPortBinding(port, RabbitMqBuilder.RabbitMqPort).Build();
        await container.StartAsync();
        return new ChaosBroker(container, port);
    }

    /// <summary>Stops the node and starts it again on the same port.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        await _container.StopAsync();
        await Task.Delay(down);
        await _container.StartAsync();
    }

    public async Task<string> CtlAsync(params string[] args)
    {
        var result = await _container.ExecAsync(["rabbitmqctl", .. args]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} failed: {result.Stderr}");
        }
        return result.Stdout;
    }

    public async Task<IConnection> ConnectAsync() =>
        await new ConnectionFactory { Uri = Uri, AutomaticRecoveryEnabled = false }.CreateConnectionAsync();

    public async Task PublishAsync(string queue, IEnumerable<byte[]> bodies, IDictionary<string, object?>? headers = null)
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        foreach (var body in bodies)
        {
            var properties = new BasicProperties { ContentType = "application/json", Persistent = true, Type = "job:test", Headers = headers };
            await channel.BasicPublishAsync("", queue, false, properties, body);
        }
    }

    /// <summary>Ready plus unacked messages of a queue, as rabbitmqctl says; null while the broker can't say.</summary>
    public async Task<int?> MessagesAsync(string queue)
    {
        try
        {
            var listed = await CtlAsync("list_queues", "-q", "name", "messages");
            var line = listed.Split('\n').Select(l => l.Split('\t')).FirstOrDefault(f => f.Length == 2 && f[0] == queue);
            return line is null ? 0 : int.Parse(line[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync() => await _container.DisposeAsync();

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
