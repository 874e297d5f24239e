using Worker.Core.Telemetry;

namespace Worker.Ssh;

/// <summary>
/// Spans and error counts of SSH calls (<c>ssh connect</c> per attempt, <c>ssh upload</c>), whichever
/// backend reaches its machine over SSH; the host is in <c>server.address</c>.
/// </summary>
internal static class SshTracing
{
    public const string Backend = "ssh";

    public static async Task<T> TraceAsync<T>(string operation, SshEndpoint endpoint, Func<Task<T>> call)
    {
        using var span = BackendCalls.Start(Backend, operation);
        span?.SetTag(TraceAttributes.ServerAddress, endpoint.Host);
        span?.SetTag(TraceAttributes.ServerPort, endpoint.Port);
        try
        {
            return await call();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            BackendCalls.Failed(span, Backend, KindOf(e), error: e);
            throw;
        }
    }

    public static Task TraceAsync(string operation, SshEndpoint endpoint, Func<Task> call) =>
        TraceAsync(operation, endpoint, async () => { await call(); return true; });

    private static string KindOf(Exception e) => e switch
    {
        HostKeyRejectedException => "host_key_rejected",
        SshAuthenticationRefusedException => "auth_refused",
        SshUnreachableException => "unreachable",
        RemoteFileExistsException => "file_exists",
        _ => BackendCalls.KindOf(e),
    };
}
