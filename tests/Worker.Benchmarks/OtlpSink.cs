using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Worker.Tests.Otlp;

namespace Worker.Benchmarks;

/// <summary>
/// An OTLP/HTTP receiver standing in for a collector: it keeps the request bodies as they come and
/// parses them only when asked, after a measurement, so the worker's side pays what it would pay
/// against a collector on another machine.
/// </summary>
internal sealed class OtlpSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<byte[]> _traces = new();

    private OtlpSink(WebApplication app) => _app = app;

    public Uri Endpoint { get; private set; } = null!;

    public static async Task<OtlpSink> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 64 << 20;
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        var sink = new OtlpSink(app);
        app.MapPost("/v1/traces", async (HttpRequest request) => { sink._traces.Enqueue(await ReadAsync(request)); return Results.Ok(); });
        app.MapPost("/v1/metrics", async (HttpRequest request) => { await ReadAsync(request); return Results.Ok(); });
        await app.StartAsync();
        sink.Endpoint = new Uri(app.Urls.First());
        return sink;
    }

    /// <summary>The spans received since the last call.</summary>
    public long TakeSpanCount()
    {
        long spans = 0;
        while (_traces.TryDequeue(out var body))
        {
            spans += ExportTraceServiceRequest.Parser.ParseFrom(body).ResourceSpans.SelectMany(r => r.ScopeSpans).Sum(s => s.Spans.Count);
        }
        return spans;
    }

    private static async Task<byte[]> ReadAsync(HttpRequest request)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        return body.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
