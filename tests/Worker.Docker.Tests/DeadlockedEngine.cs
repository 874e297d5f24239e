using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace Worker.Docker.Tests;

/// <summary>
/// A Docker engine socket that behaves as a dockerd whose network controller is deadlocked (Docker
/// 20.10's libnetwork, moby/moby#46661): it answers <c>/_ping</c> as dockerd does, and reads every
/// other request (a create, a network list) and never answers it. A real engine can't be made to
/// deadlock on demand, so this stands in for that one fault.
/// </summary>
internal sealed class DeadlockedEngine : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _clients = [];
    private readonly Task _accepting;

    private DeadlockedEngine(Socket listener)
    {
        _listener = listener;
        _accepting = AcceptAsync();
    }

    /// <summary>The request lines received, in order ("GET /v1.41/_ping HTTP/1.1").</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static DeadlockedEngine Start(string socketPath)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(16);
        return new DeadlockedEngine(listener);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                _clients.Add(client);
                _ = ServeAsync(client);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var buffer = new byte[16 * 1024];
        var pending = new StringBuilder();
        try
        {
            while (true)
            {
                var read = await client.ReceiveAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }
                pending.Append(Encoding.Latin1.GetString(buffer, 0, read));
                int end;
                while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    var requestLine = pending.ToString(0, end).Split("\r\n")[0];
                    pending.Remove(0, end + 4);
                    Requests.Enqueue(requestLine);
                    if (!requestLine.Contains("/_ping", StringComparison.Ordinal))
                    {
                        await Task.Delay(Timeout.Infinite, _stop.Token); // stuck on the controller's lock
                    }
                    var pong = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain; charset=utf-8\r\n" +
                        "Docker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nContent-Length: 2\r\n\r\n" +
                        (requestLine.StartsWith("HEAD", StringComparison.Ordinal) ? "" : "OK");
                    await client.SendAsync(Encoding.ASCII.GetBytes(pong), _stop.Token);
                }
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (SocketException)
        {
            // The client hung up.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        foreach (var client in _clients)
        {
            client.Dispose();
        }
        await _accepting;
    }
}
