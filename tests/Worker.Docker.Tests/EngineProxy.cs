using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Worker.Docker.Tests;

/// <summary>
/// A unix socket in front of the real engine that passes every request through and can inject the
/// faults a busy or distant engine shows: a request held back before it reaches the engine, an answer
/// that comes late, an answer that never comes (the engine did the work; the caller waits in vain),
/// and a connection cut in the middle of a stream. It reads request heads and bodies just enough to
/// tell one request from the next (HTTP/1.1, no pipelining); an upgraded connection (attach, exec) is
/// passed through as raw bytes.
/// </summary>
internal sealed class EngineProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _dir;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Rule> _rules = [];
    private readonly ConcurrentBag<Connection> _connections = [];
    private readonly Task _accepting;

    private EngineProxy(string dir)
    {
        _dir = dir;
        var path = Path.Combine(dir, "docker.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(64);
        Endpoint = new Uri("unix://" + path);
        _accepting = AcceptAsync();
    }

    /// <summary>Where a Docker client reaches the engine through this proxy.</summary>
    public Uri Endpoint { get; }

    /// <summary>Every request line that reached the proxy, e.g. <c>POST /containers/create?name=x HTTP/1.1</c>.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static EngineProxy Start() => new(Directory.CreateTempSubdirectory("engine-proxy-").FullName);

    /// <summary>The next request matching <paramref name="pattern"/> (a regex over its request line) waits here until the returned gate is released.</summary>
    public Gate Hold(string pattern)
    {
        var gate = new Gate();
        Add(new Rule(new Regex(pattern), RuleKind.Hold, gate, TimeSpan.Zero));
        return gate;
    }

    /// <summary>The next request matching <paramref name="pattern"/> reaches the engine at once; its answer is held for <paramref name="delay"/>.</summary>
    public Gate DelayAnswer(string pattern, TimeSpan delay)
    {
        var gate = new Gate();
        Add(new Rule(new Regex(pattern), RuleKind.DelayAnswer, gate, delay));
        return gate;
    }

    /// <summary>The next request matching <paramref name="pattern"/> reaches the engine; its answer is thrown away and the connection left open.</summary>
    public Gate LoseAnswer(string pattern)
    {
        var gate = new Gate();
        Add(new Rule(new Regex(pattern), RuleKind.LoseAnswer, gate, TimeSpan.Zero));
        return gate;
    }

    /// <summary>The next request matching <paramref name="pattern"/> reaches the engine; its connection is cut when the answer comes, instead of the answer.</summary>
    public Gate DropAnswer(string pattern)
    {
        var gate = new Gate();
        Add(new Rule(new Regex(pattern), RuleKind.DropAnswer, gate, TimeSpan.Zero));
        return gate;
    }

    /// <summary>Every request matching <paramref name="pattern"/> from now on is answered 500 by the proxy, never reaching the engine.</summary>
    public void Refuse(string pattern) => Add(new Rule(new Regex(pattern), RuleKind.Refuse, new Gate(), TimeSpan.Zero) { Always = true });

    /// <summary>The next request matching <paramref name="pattern"/> is answered 500 by the proxy, never reaching the engine.</summary>
    public void RefuseNext(string pattern) => Add(new Rule(new Regex(pattern), RuleKind.Refuse, new Gate(), TimeSpan.Zero));

    /// <summary>The connection of the next request matching <paramref name="pattern"/> is cut, both ways, when the returned gate is released.</summary>
    public Gate CutLater(string pattern)
    {
        var gate = new Gate();
        Add(new Rule(new Regex(pattern), RuleKind.Cut, gate, TimeSpan.Zero));
        return gate;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        foreach (var c in _connections)
        {
            c.Close();
        }
        try
        {
            await _accepting;
        }
        catch (Exception)
        {
        }
        Directory.Delete(_dir, recursive: true);
    }

    private void Add(Rule rule)
    {
        lock (_rules)
        {
            _rules.Add(rule);
        }
    }

    private Rule? Take(string requestLine)
    {
        lock (_rules)
        {
            var rule = _rules.FirstOrDefault(r => r.Pattern.IsMatch(requestLine));
            if (rule is { Always: false })
            {
                _rules.Remove(rule);
            }
            return rule;
        }
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
            catch (Exception)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var engine = await ConnectEngineAsync();
        var connection = new Connection(client, engine);
        _connections.Add(connection);
        try
        {
            var requests = PumpRequestsAsync(connection);
            var answers = PumpAnswersAsync(connection);
            if (await Task.WhenAny(requests, answers) == requests && requests.IsCompletedSuccessfully)
            {
                // The caller is done sending (a half-close, as at the end of an attach's stdin): so is the engine's side; answers go on.
                engine.Shutdown(SocketShutdown.Send);
                await answers;
            }
        }
        catch (Exception)
        {
            // A connection that breaks is what the caller sees; nothing to report here.
        }
        finally
        {
            connection.Close();
        }
    }

    private static async Task<Socket> ConnectEngineAsync()
    {
        var endpoint = DockerEngine.Endpoint;
        if (endpoint.Scheme == "unix")
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(endpoint.AbsolutePath));
            return socket;
        }
        var tcp = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await tcp.ConnectAsync(endpoint.Host, endpoint.Port);
        return tcp;
    }

    private async Task PumpRequestsAsync(Connection c)
    {
        var reader = new HeadReader(c.ClientStream);
        while (true)
        {
            var head = await reader.ReadHeadAsync(_stop.Token);
            if (head is null)
            {
                return;
            }
            var text = Encoding.ASCII.GetString(head);
            var requestLine = text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
            Requests.Enqueue(requestLine);
            var rule = Take(requestLine);
            switch (rule?.Kind)
            {
                case RuleKind.Hold:
                    rule.Gate.Seen.TrySetResult();
                    await rule.Gate.Released.Task.WaitAsync(_stop.Token);
                    break;
                case RuleKind.DelayAnswer:
                    c.AnswerGate = Task.Delay(rule.Delay, _stop.Token);
                    rule.Gate.Seen.TrySetResult();
                    break;
                case RuleKind.LoseAnswer:
                    c.SwallowAnswers = true;
                    rule.Gate.Seen.TrySetResult();
                    break;
                case RuleKind.DropAnswer:
                    c.DropAnswers = true;
                    rule.Gate.Seen.TrySetResult();
                    break;
                case RuleKind.Cut:
                    rule.Gate.Seen.TrySetResult();
                    _ = rule.Gate.Released.Task.ContinueWith(_ => c.Close(), TaskScheduler.Default);
                    break;
            }
            var headers = text.Split("\r\n").Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
                .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            var refused = rule?.Kind == RuleKind.Refuse;
            var to = refused ? Stream.Null : c.EngineStream;
            await to.WriteAsync(head, _stop.Token);
            if (headers.ContainsKey("Upgrade") && !refused)
            {
                await reader.CopyRestAsync(c.EngineStream, _stop.Token);
                return;
            }
            if (headers.TryGetValue("Content-Length", out var length) && long.Parse(length, System.Globalization.CultureInfo.InvariantCulture) > 0)
            {
                await reader.CopyAsync(to, long.Parse(length, System.Globalization.CultureInfo.InvariantCulture), _stop.Token);
            }
            else if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                await reader.CopyChunkedAsync(to, _stop.Token);
            }
            if (refused)
            {
                // The previous answer is complete (no pipelining), so this one can't interleave with the engine's.
                var body = "{\"message\":\"refused by the test's engine proxy\"}"u8.ToArray();
                var answer = Encoding.ASCII.GetBytes($"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
                await c.ClientStream.WriteAsync(answer.Concat(body).ToArray(), _stop.Token);
            }
        }
    }

    private async Task PumpAnswersAsync(Connection c)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await c.EngineStream.ReadAsync(buffer, _stop.Token);
            if (read == 0 && c.SwallowAnswers)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token); // the caller hears nothing, not even the end
            }
            if (read == 0 || c.DropAnswers)
            {
                return;
            }
            await c.AnswerGate;
            if (!c.SwallowAnswers)
            {
                await c.ClientStream.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
    }

    /// <summary>A fault waiting for its request: <see cref="Seen"/> fires when the request arrives; <see cref="Release"/> lets a held request go on, or cuts a connection.</summary>
    internal sealed class Gate
    {
        public TaskCompletionSource Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => Released.TrySetResult();
    }

    private enum RuleKind
    {
        Hold,
        DelayAnswer,
        LoseAnswer,
        DropAnswer,
        Refuse,
        Cut,
    }

    private sealed record Rule(Regex Pattern, RuleKind Kind, Gate Gate, TimeSpan Delay)
    {
        /// <summary>Applies to every matching request, not only the next.</summary>
        public bool Always { get; init; }
    }

    private sealed class Connection(Socket client, Socket engine)
    {
        public NetworkStream ClientStream { get; } = new(client, ownsSocket: true);

        public NetworkStream EngineStream { get; } = new(engine, ownsSocket: true);

        public volatile Task AnswerGate = Task.CompletedTask;

        public volatile bool SwallowAnswers;

        public volatile bool DropAnswers;

        public void Close()
        {
            ClientStream.Dispose();
            EngineStream.Dispose();
        }
    }

    /// <summary>Reads a stream request by request: heads up to the blank line, then exactly the body that belongs to each.</summary>
    private sealed class HeadReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<byte[]?> ReadHeadAsync(CancellationToken ct)
        {
            while (true)
            {
                var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    var head = _buffer.AsSpan(_start, end + 4).ToArray();
                    _start += end + 4;
                    return head;
                }
                if (!await FillAsync(ct))
                {
                    return null;
                }
            }
        }

        public async Task CopyAsync(Stream to, long count, CancellationToken ct)
        {
            while (count > 0)
            {
                if (_start == _end && !await FillAsync(ct))
                {
                    throw new EndOfStreamException();
                }
                var n = (int)Math.Min(count, _end - _start);
                await to.WriteAsync(_buffer.AsMemory(_start, n), ct);
                _start += n;
                count -= n;
            }
        }

        public async Task CopyChunkedAsync(Stream to, CancellationToken ct)
        {
            while (true)
            {
                var sizeLine = await ReadLineAsync(ct);
                await to.WriteAsync(Encoding.ASCII.GetBytes(sizeLine + "\r\n"), ct);
                var size = Convert.ToInt64(sizeLine.Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    // Trailers, if any, end with an empty line.
                    while (true)
                    {
                        var trailer = await ReadLineAsync(ct);
                        await to.WriteAsync(Encoding.ASCII.GetBytes(trailer + "\r\n"), ct);
                        if (trailer.Length == 0)
                        {
                            return;
                        }
                    }
                }
                await CopyAsync(to, size + 2, ct);
            }
        }

        public async Task CopyRestAsync(Stream to, CancellationToken ct)
        {
            if (_end > _start)
            {
                await to.WriteAsync(_buffer.AsMemory(_start, _end - _start), ct);
                _start = _end;
            }
            await stream.CopyToAsync(to, ct);
        }

        private async Task<string> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
                if (end >= 0)
                {
                    var line = Encoding.ASCII.GetString(_buffer, _start, end);
                    _start += end + 2;
                    return line;
                }
                if (!await FillAsync(ct))
                {
                    throw new EndOfStreamException();
                }
            }
        }

        private async Task<bool> FillAsync(CancellationToken ct)
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                throw new InvalidOperationException("a request head larger than the proxy's buffer");
            }
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
            _end += read;
            return read > 0;
        }
    }
}
