using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Worker.Benchmarks;

/// <summary>
/// An OTLP/HTTP receiver standing in for a collector on another machine: it counts the spans of
/// each request as it comes, walking the protobuf wire format in a pooled buffer, so it takes as
/// little of the worker's two cores as it can (keeping each body took it 20 us of CPU per job,
/// most of it collecting the large arrays). The worker's side pays what it would pay against a
/// collector elsewhere.
/// </summary>
internal sealed class OtlpSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _spans;

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
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            Interlocked.Add(ref sink._spans, await ReadAsync(request, CountSpans));
            return Results.Ok();
        });
        app.MapPost("/v1/metrics", async (HttpRequest request) => { await ReadAsync(request, _ => 0); return Results.Ok(); });
        await app.StartAsync();
        sink.Endpoint = new Uri(app.Urls.First());
        return sink;
    }

    /// <summary>The spans received since the last call.</summary>
    public long TakeSpanCount() => Interlocked.Exchange(ref _spans, 0);

    private delegate long BodyReader(ReadOnlySpan<byte> body);

    private static async Task<long> ReadAsync(HttpRequest request, BodyReader read)
    {
        if (request.ContentLength is not { } contentLength)
        {
            using var copy = new MemoryStream();
            await request.Body.CopyToAsync(copy);
            return read(copy.GetBuffer().AsSpan(0, (int)copy.Length));
        }
        var length = checked((int)contentLength);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await request.Body.ReadExactlyAsync(buffer.AsMemory(0, length));
            return read(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The spans in an <c>ExportTraceServiceRequest</c>: its <c>resource_spans</c> (field 1), their
    /// <c>scope_spans</c> (field 2), and the <c>spans</c> (field 2) of those, counted without
    /// parsing them. A body that is not protobuf throws.
    /// </summary>
    private static long CountSpans(ReadOnlySpan<byte> request) => CountSpans(request, depth: 0);

    private static long CountSpans(ReadOnlySpan<byte> message, int depth)
    {
        var wanted = depth == 0 ? 1 : 2;
        long count = 0;
        while (!message.IsEmpty)
        {
            var tag = ReadVarint(ref message);
            switch (tag & 7)
            {
                case 0:
                    ReadVarint(ref message);
                    break;
                case 1:
                    message = message[8..];
                    break;
                case 5:
                    message = message[4..];
                    break;
                case 2:
                    var length = checked((int)ReadVarint(ref message));
                    if ((int)(tag >> 3) == wanted)
                    {
                        count += depth == 2 ? 1 : CountSpans(message[..length], depth + 1);
                    }
                    message = message[length..];
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {tag & 7} in an OTLP request");
            }
        }
        return count;
    }

    private static ulong ReadVarint(ref ReadOnlySpan<byte> message)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = message[0];
            message = message[1..];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw new InvalidDataException("a protobuf varint longer than 10 bytes in an OTLP request");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
