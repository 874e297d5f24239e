using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Worker.Core.Tests;

/// <summary>
/// travis-build's script endpoint on a loopback port: takes the job's payload as a JSON POST and
/// answers with a bash script, or with the statuses queued in <see cref="Failures"/> first.
/// </summary>
internal sealed class FakeTravisBuild : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public FakeTravisBuild(string script = "#!/bin/bash\necho from travis-build\n")
    {
        var port = FreePort();
        Uri = new Uri($"http://127.0.0.1:{port}/script");
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _serving = ServeAsync(script);
    }

    public Uri Uri { get; }

    /// <summary>Statuses answered, in order, before the script is.</summary>
    public ConcurrentQueue<int> Failures { get; } = new();

    public ConcurrentQueue<(string PathAndQuery, string? Authorization, string? UserAgent, string ContentType, string Body)> Requests { get; } = new();

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }

    private async Task ServeAsync(string script)
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            Requests.Enqueue((context.Request.Url!.PathAndQuery, context.Request.Headers["Authorization"], context.Request.UserAgent,
                context.Request.ContentType ?? "", await reader.ReadToEndAsync()));
            var (status, body) = Failures.TryDequeue(out var failure) ? (failure, "{\"error\":\"try later\"}") : (200, script);
            context.Response.StatusCode = status;
            var bytes = Encoding.UTF8.GetBytes(body);
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
