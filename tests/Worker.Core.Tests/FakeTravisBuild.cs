using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Worker.TestSupport;

namespace Worker.Core.Tests;

/// <summary>
/// travis-build's script endpoint on a loopback port: takes the job's payload as a JSON POST and
/// answers with a bash script, or with the statuses queued in <see cref="Failures"/> first.
/// </summary>
internal sealed class FakeTravisBuild : IDisposable
{
    private readonly LoopbackHttpServer _server;

    public FakeTravisBuild(string script = "#!/bin/bash\necho from travis-build\n")
    {
        _server = new LoopbackHttpServer(context => AnswerAsync(context, script));
        Uri = new Uri(_server.BaseUri, "script");
    }

    public Uri Uri { get; }

    /// <summary>Statuses answered, in order, before the script is.</summary>
    public ConcurrentQueue<int> Failures { get; } = new();

    public ConcurrentQueue<(string PathAndQuery, string? Authorization, string? UserAgent, string ContentType, string Body)> Requests { get; } = new();

    public void Dispose() => _server.Dispose();

    private async Task AnswerAsync(HttpListenerContext context, string script)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        Requests.Enqueue((context.Request.Url!.PathAndQuery, context.Request.Headers["Authorization"], context.Request.UserAgent,
            context.Request.ContentType ?? "", await reader.ReadToEndAsync()));
        var (status, body) = Failures.TryDequeue(out var failure) ? (failure, "{\"error\":\"try later\"}") : (200, script);
        context.Response.StatusCode = status;
        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body));
    }
}
