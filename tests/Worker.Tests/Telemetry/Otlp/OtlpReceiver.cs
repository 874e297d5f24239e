using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Worker.Tests.Otlp;

/// <summary>
/// An OTLP receiver in the test process, as a collector (or Honeycomb) receives: the gRPC
/// services (<c>opentelemetry.proto.collector.*.v1.*Service/Export</c>, on <see cref="GrpcEndpoint"/>)
/// and HTTP/protobuf (<c>POST /v1/traces</c>, <c>/v1/metrics</c>, <c>/v1/logs</c>, on
/// <see cref="HttpEndpoint"/>). It keeps every request as it came (headers, body) and what it held.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app, Uri grpc, Uri http, Collected collected)
    {
        _app = app;
        GrpcEndpoint = grpc;
        HttpEndpoint = http;
        Received = collected;
    }

    /// <summary>Where gRPC exporters send (h2c).</summary>
    public Uri GrpcEndpoint { get; }

    /// <summary>Where HTTP/protobuf exporters send; the base without <c>/v1/...</c>.</summary>
    public Uri HttpEndpoint { get; }

    public Collected Received { get; }

    public IReadOnlyList<OtlpRequest> Requests => Received.Requests.ToList();
    public IReadOnlyList<OtlpSpan> Spans => Received.Spans.ToList();
    public IReadOnlyList<OtlpPoint> Points => Received.Points.ToList();
    public IReadOnlyList<OtlpLog> Logs => Received.Logs.ToList();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var collected = new Collected();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(collected);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = 64 << 20;
            kestrel.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.MapGrpcService<TraceReceiver>();
        app.MapGrpcService<MetricsReceiver>();
        app.MapGrpcService<LogsReceiver>();
        app.MapPost("/v1/traces", (HttpRequest request) => ReceiveHttpAsync(request, collected, "traces", ExportTraceServiceRequest.Parser, collected.Add, new ExportTraceServiceResponse()));
        app.MapPost("/v1/metrics", (HttpRequest request) => ReceiveHttpAsync(request, collected, "metrics", ExportMetricsServiceRequest.Parser, collected.Add, new ExportMetricsServiceResponse()));
        app.MapPost("/v1/logs", (HttpRequest request) => ReceiveHttpAsync(request, collected, "logs", ExportLogsServiceRequest.Parser, collected.Add, new ExportLogsServiceResponse()));
        await app.StartAsync();
        var urls = app.Urls.Select(u => new Uri(u)).ToList();
        // Kestrel lists the endpoints in the order they were configured: HTTP/2 first.
        return new OtlpReceiver(app, urls[0], urls[1], collected);
    }

    private static async Task<IResult> ReceiveHttpAsync<T>(HttpRequest request, Collected collected, string signal, MessageParser<T> parser,
        Action<T> add, IMessage response) where T : IMessage<T>
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        collected.Requests.Enqueue(new OtlpRequest(signal, "http/protobuf", request.Path,
            request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), bytes));
        add(parser.ParseFrom(bytes));
        return Results.Bytes(response.ToByteArray(), "application/x-protobuf");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Everything received, flattened: spans, metric points and log records, each with its resource.</summary>
    public sealed class Collected
    {
        public ConcurrentQueue<OtlpRequest> Requests { get; } = new();
        public ConcurrentQueue<OtlpSpan> Spans { get; } = new();
        public ConcurrentQueue<OtlpPoint> Points { get; } = new();
        public ConcurrentQueue<OtlpLog> Logs { get; } = new();

        public void Add(ExportTraceServiceRequest request)
        {
            foreach (var resource in request.ResourceSpans)
            {
                var attributes = OtlpValues.Map(resource.Resource?.Attributes);
                foreach (var scope in resource.ScopeSpans)
                {
                    foreach (var span in scope.Spans)
                    {
                        Spans.Enqueue(OtlpSpan.From(span, scope.Scope?.Name ?? "", attributes));
                    }
                }
            }
        }

        public void Add(ExportMetricsServiceRequest request)
        {
            foreach (var resource in request.ResourceMetrics)
            {
                var attributes = OtlpValues.Map(resource.Resource?.Attributes);
                foreach (var scope in resource.ScopeMetrics)
                {
                    foreach (var metric in scope.Metrics)
                    {
                        foreach (var point in OtlpPoint.From(metric, attributes))
                        {
                            Points.Enqueue(point);
                        }
                    }
                }
            }
        }

        public void Add(ExportLogsServiceRequest request)
        {
            foreach (var resource in request.ResourceLogs)
            {
                var attributes = OtlpValues.Map(resource.Resource?.Attributes);
                foreach (var scope in resource.ScopeLogs)
                {
                    foreach (var record in scope.LogRecords)
                    {
                        Logs.Enqueue(OtlpLog.From(record, attributes));
                    }
                }
            }
        }

        public void AddGrpc(string signal, ServerCallContext context, IMessage request) =>
            Requests.Enqueue(new OtlpRequest(signal, "grpc", context.Method,
                context.RequestHeaders.Where(h => !h.IsBinary).ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value), request.ToByteArray()));
    }

    private sealed class TraceReceiver(Collected collected) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            collected.AddGrpc("traces", context, request);
            collected.Add(request);
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class MetricsReceiver(Collected collected) : MetricsService.MetricsServiceBase
    {
        public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
        {
            collected.AddGrpc("metrics", context, request);
            collected.Add(request);
            return Task.FromResult(new ExportMetricsServiceResponse());
        }
    }

    private sealed class LogsReceiver(Collected collected) : LogsService.LogsServiceBase
    {
        public override Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context)
        {
            collected.AddGrpc("logs", context, request);
            collected.Add(request);
            return Task.FromResult(new ExportLogsServiceResponse());
        }
    }
}

/// <summary>One export request as it came: which signal, over which protocol, its path, headers and body.</summary>
public sealed record OtlpRequest(string Signal, string Protocol, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body);
