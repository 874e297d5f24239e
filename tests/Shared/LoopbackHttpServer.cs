using System.Net;

namespace Worker.TestSupport;

/// <summary>An HTTP server on a free loopback port that answers each request with <c>respond</c>, until disposed.</summary>
public sealed class LoopbackHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();

    public LoopbackHttpServer(Func<HttpListenerContext, Task> respond)
    {
        var port = LoopbackPorts.Free();
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseUri.ToString());
        _listener.Start();
        _ = ServeAsync(respond);
    }

    public Uri BaseUri { get; }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }

    private async Task ServeAsync(Func<HttpListenerContext, Task> respond)
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
            await respond(context);
            context.Response.Close();
        }
    }
}
