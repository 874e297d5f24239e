using System.Diagnostics;
using System.Net.Sockets;

namespace Worker.Core.Telemetry;

/// <summary>
/// One span per call a backend makes to what runs its machines (the Docker API, the Compute API,
/// SSH, the tart/vetu CLIs, Cirrus RPCs), a child of the job step it serves, and one count per
/// failed call by backend and kind (<c>worker.backend.errors</c>). Every backend calls these, so
/// a new one gets the same spans and error counts with one line per call.
/// </summary>
public static class BackendCalls
{
    /// <summary>Starts the span of one call; null when nobody listens. Dispose it when the call ends.</summary>
    /// <param name="backend">The backend's name, e.g. <c>docker</c>.</param>
    /// <param name="operation">What is called, with few distinct values: <c>POST /containers/{id}/start</c>, <c>connect</c>.</param>
    public static Activity? Start(string backend, string operation)
    {
        var call = WorkerTelemetry.Source.StartActivity(backend + " " + operation, ActivityKind.Client);
        call?.SetTag(TraceAttributes.Backend, backend);
        call?.SetTag(TraceAttributes.Operation, operation);
        return call;
    }

    /// <summary>The call failed: counted by <paramref name="kind"/>, and its span says so.</summary>
    public static void Failed(Activity? call, string backend, string kind, string? description = null, Exception? error = null)
    {
        WorkerMetrics.BackendError(backend, kind);
        if (call is null)
        {
            return;
        }
        call.SetTag(TraceAttributes.ErrorType, kind);
        call.SetStatus(ActivityStatusCode.Error, description ?? error?.Message ?? kind);
        if (error is not null)
        {
            call.AddException(error);
        }
    }

    /// <summary>Runs <paramref name="call"/> in its span; a failure is counted (unless the caller cancelled it) and thrown on.</summary>
    public static async Task<T> TraceAsync<T>(string backend, string operation, Func<Task<T>> call, Func<Exception, string>? kindOf = null)
    {
        using var span = Start(backend, operation);
        try
        {
            return await call();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Failed(span, backend, (kindOf ?? KindOf)(e), error: e);
            throw;
        }
    }

    /// <inheritdoc cref="TraceAsync{T}"/>
    public static Task TraceAsync(string backend, string operation, Func<Task> call, Func<Exception, string>? kindOf = null) =>
        TraceAsync(backend, operation, async () => { await call(); return true; }, kindOf);

    /// <summary>A short, bounded name for what went wrong: <c>timeout</c>, <c>unreachable</c>, <c>http_404</c>, or the exception's type.</summary>
    public static string KindOf(Exception e) => e switch
    {
        TimeoutException => "timeout",
        HttpRequestException { StatusCode: { } status } => HttpKind((int)status),
        HttpRequestException or SocketException => "unreachable",
        IOException { InnerException: SocketException } => "unreachable",
        _ => e.GetType().Name.Replace("Exception", "", StringComparison.Ordinal).ToLowerInvariant() is { Length: > 0 } name ? name : "error",
    };

    /// <summary>The kind of an HTTP error answer: <c>http_429</c>, <c>http_503</c>...</summary>
    public static string HttpKind(int status) => "http_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
