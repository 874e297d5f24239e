using System.Net.Http;
using Docker.DotNet.Handler.Abstractions;
using Worker.Core.Telemetry;

namespace Worker.Docker;

/// <summary>
/// A span per Docker Engine API request (<c>docker POST /containers/{id}/start</c>), a child of
/// the job step it serves, and a <c>worker.backend.errors</c> count per failed one (<c>http_404</c>,
/// <c>unreachable</c>...). It sits in the client's HTTP handler chain, where Docker.DotNet lets an
/// auth provider wrap the transport, so every call of every client is traced in one place.
/// </summary>
public sealed class DockerApiTracing(IAuthProvider? inner) : IAuthProvider
{
    public const string Backend = "docker";

    public bool TlsEnabled => inner?.TlsEnabled ?? false;

    public HttpMessageHandler ConfigureHandler(HttpMessageHandler handler) =>
        new TracingHandler { InnerHandler = inner?.ConfigureHandler(handler) ?? handler };

    /// <summary>The request's path with ids and names replaced, so a span name has few distinct values.</summary>
    public static string Operation(HttpMethod method, string path)
    {
        var segments = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (segments.Count > 0 && segments[0].StartsWith('v') && segments[0].Contains('.', StringComparison.Ordinal))
        {
            segments.RemoveAt(0); // the API version
        }
        var template = segments.Count switch
        {
            0 => "/",
            1 => "/" + segments[0],
            2 when CollectionVerbs.Contains(segments[1]) => $"/{segments[0]}/{segments[1]}",
            2 => $"/{segments[0]}/{{id}}",
            _ => $"/{segments[0]}/{{id}}/{segments[^1]}", // image names may hold slashes: the action is last
        };
        return method.Method + " " + template;
    }

    private static readonly HashSet<string> CollectionVerbs = new(StringComparer.Ordinal) { "create", "json", "prune", "load", "search", "get" };

    private sealed class TracingHandler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var operation = Operation(request.Method, request.RequestUri?.AbsolutePath ?? "/");
            using var call = BackendCalls.Start(Backend, operation);
            call?.SetTag(TraceAttributes.HttpMethod, request.Method.Method);
            call?.SetTag(TraceAttributes.UrlPath, request.RequestUri?.AbsolutePath);
            try
            {
                var response = await base.SendAsync(request, ct);
                var status = (int)response.StatusCode;
                call?.SetTag(TraceAttributes.HttpStatus, status);
                if (status >= 400)
                {
                    BackendCalls.Failed(call, Backend, BackendCalls.HttpKind(status), $"{operation}: HTTP {status}");
                }
                return response;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                BackendCalls.Failed(call, Backend, e is OperationCanceledException ? "timeout" : BackendCalls.KindOf(e), error: e);
                throw;
            }
        }
    }
}
