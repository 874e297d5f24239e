using System.Net;
using System.Net.Sockets;

namespace Worker.Amqp.Tests;

/// <summary>
/// A unix socket at a path of the test's choosing that relays every connection, byte for byte, to
/// the real Docker engine (DOCKER_HOST, else /var/run/docker.sock). A worker pointed at that path
/// sees a real engine appear there, as when a dockerd starts on a host whose engine was down.
/// </summary>
internal sealed class DockerSocketRelay : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly EndPoint _engine;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _open = [];
    private readonly Task _accepting;

    private DockerSocketRelay(Socket listener, EndPoint engine)
    {
        _listener = listener;
        _engine = engine;
        _accepting = AcceptAsync();
    }

    /// <summary>The engine the tests run against, as a socket address.</summary>
    public static EndPoint Engine
    {
        get
        {
            var host = Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } h ? new Uri(h) : new Uri("unix:///var/run/docker.sock");
            return host.Scheme switch
            {
                "unix" => new UnixDomainSocketEndPoint(host.AbsolutePath),
                "tcp" or "http" => new DnsEndPoint(host.Host, host.Port),
                _ => throw new InvalidOperationException($"DOCKER_HOST={host}: the relay speaks to unix and plain tcp engines only"),
            };
        }
    }

    public static DockerSocketRelay Start(string socketPath)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(64);
        return new DockerSocketRelay(listener, Engine);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var engine = new Socket(_engine.AddressFamily, SocketType.Stream, _engine is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        lock (_open)
        {
            _open.Add(client);
            _open.Add(engine);
        }
        try
        {
            await engine.ConnectAsync(_engine, _stop.Token);
            // Each direction ends with a half-close, so a request body or an attach stream ends where it would without the relay.
            await Task.WhenAll(CopyAsync(client, engine), CopyAsync(engine, client));
        }
        catch (Exception)
        {
            // A connection either side dropped; the other side sees it closed.
        }
        finally
        {
            client.Dispose();
            engine.Dispose();
            lock (_open)
            {
                _open.Remove(client);
                _open.Remove(engine);
            }
        }
    }

    private async Task CopyAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }
            await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
        }
    }
}
