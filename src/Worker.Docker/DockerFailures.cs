using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Docker.DotNet;
using Worker.Core.Backends;

namespace Worker.Docker;

/// <summary>
/// What a failed call to the Docker engine means for this host. An engine it can't reach (no
/// socket, connection refused, TLS refused) or one out of disk fails every job here: a host
/// failure that names the endpoint and the settings that point at it. Anything else is the
/// caller's to judge (a missing image refuses the job; other errors requeue it).
/// </summary>
public static class DockerFailures
{
    /// <summary>Whether a call failed because no container answers to the id or name it used (never there, removed, or renamed).</summary>
    public static bool IsNoSuchContainer(Exception e) =>
        e is DockerContainerNotFoundException || e is DockerApiException { StatusCode: HttpStatusCode.NotFound };

    /// <summary>The host failure <paramref name="e"/> stands for, or null when it is not one.</summary>
    public static BackendFailureException? HostLevel(Exception e, Uri endpoint)
    {
        if (e is BackendFailureException)
        {
            return null; // classified already
        }
        if (Unreachable(e, endpoint) is { } why)
        {
            var hint = why.StartsWith(TlsFailed, StringComparison.Ordinal) ? "check WORKER_DOCKER_CERT_PATH" : "set WORKER_DOCKER_ENDPOINT or DOCKER_HOST";
            return BackendFailureException.Host($"can't reach the Docker engine at {Display(endpoint)}: {why.TrimEnd('.')} ({hint})", e);
        }
        if (e is not DockerApiException api)
        {
            return null;
        }
        var body = api.ResponseBody?.Trim() ?? "";
        if (body.Contains("no space left on device", StringComparison.OrdinalIgnoreCase))
        {
            return BackendFailureException.Host($"the Docker engine at {Display(endpoint)} is out of disk space: {body}", e);
        }
        // The operator's setting, not the job's: no job runs here until it is fixed. Engines check it at create or at start.
        if (api.StatusCode == HttpStatusCode.NotFound && body.Contains("network", StringComparison.OrdinalIgnoreCase))
        {
            return BackendFailureException.Host($"WORKER_DOCKER_NETWORK names a network the Docker engine at {Display(endpoint)} doesn't know: {body}", e);
        }
        return null;
    }

    /// <summary>The endpoint as an operator writes it: <c>tcp://host:2375</c>, not <c>tcp://host:2375/</c>.</summary>
    public static string Display(Uri endpoint) => endpoint.Scheme == "unix"
        ? "unix://" + endpoint.AbsolutePath
        : endpoint.AbsolutePath == "/" ? endpoint.GetLeftPart(UriPartial.Authority) : endpoint.ToString();

    private const string TlsFailed = "the TLS handshake failed";

    /// <summary>Why the engine could not be reached, in a few words, or null when it was reached.</summary>
    private static string? Unreachable(Exception e, Uri endpoint)
    {
        foreach (var inner in Chain(e))
        {
            switch (inner)
            {
                case AuthenticationException tls:
                    return $"{TlsFailed}: {tls.Message}";
                case SocketException socket when endpoint.Scheme == "unix" && !File.Exists(endpoint.AbsolutePath):
                    return $"no socket at {endpoint.AbsolutePath}";
                case SocketException socket:
                    return socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused => "connection refused",
                        SocketError.AccessDenied => "permission denied (may this user open the socket? e.g. the docker group)",
                        SocketError.TimedOut => "connection timed out",
                        SocketError.HostNotFound or SocketError.NoData => "host not found",
                        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "network unreachable",
                        _ => socket.Message,
                    };
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError } http
                    when http.InnerException is null:
                    return http.Message;
            }
        }
        return null;
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        var pending = new Stack<Exception>([e]);
        while (pending.TryPop(out var next))
        {
            yield return next;
            if (next is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (next.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }
}
