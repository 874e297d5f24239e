using Microsoft.Extensions.Logging;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Worker.Ssh;

/// <summary>
/// Opens SSH and SFTP sessions to one endpoint: one attempt under the dial and handshake timeouts,
/// or attempts repeated until one works, the attempts run out or the caller's token ends. A refused
/// host key ends the waiting at once; so does a refused credential unless the options say a
/// booting machine may still be installing it.
/// </summary>
internal sealed class SshConnector(SshEndpoint endpoint, SshCredential credential, HostKeyPolicy hostKeys, SshConnectOptions options, ILogger logger)
{
    /// <summary>The fingerprint of the host key accepted last, for progress lines.</summary>
    public string? AcceptedHostKey { get; private set; }

    public Task<SshClient> ConnectSshAsync(CancellationToken ct) => AttemptAsync(info => new SshClient(info), ct);

    public Task<SftpClient> ConnectSftpAsync(CancellationToken ct) => AttemptAsync(info => new SftpClient(info), ct);

    public async Task<SshClient> WaitForSshAsync(CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await ConnectSshAsync(ct);
            }
            catch (SshAuthenticationRefusedException e) when (options.RetryRefusedAuthentication && !OutOfAttempts(attempt))
            {
                logger.LogDebug("SSH to {Endpoint}, attempt {Attempt}: {Error}", endpoint, attempt, e.Message);
            }
            catch (Exception e) when (e is not (SshHostException or OperationCanceledException))
            {
                logger.LogDebug("SSH to {Endpoint}, attempt {Attempt}: {Error}", endpoint, attempt, e.Message);
                if (OutOfAttempts(attempt))
                {
                    throw new SshUnreachableException(endpoint, attempt, e);
                }
            }
            await Task.Delay(options.RetryPause, ct);
        }
    }

    private bool OutOfAttempts(int attempt) => options.MaxAttempts is { } max && attempt >= max;

    private Task<T> AttemptAsync<T>(Func<ConnectionInfo, T> create, CancellationToken ct) where T : BaseClient =>
        SshTracing.TraceAsync("connect", endpoint, () => AttemptOnceAsync(create, ct));

    private async Task<T> AttemptOnceAsync<T>(Func<ConnectionInfo, T> create, CancellationToken ct) where T : BaseClient
    {
        ct.ThrowIfCancellationRequested();
        var methods = credential.Methods(endpoint.User);
        // SSH.NET bounds each wait of the key exchange and authentication by Timeout; the whole attempt is bounded below.
        var client = create(new ConnectionInfo(endpoint.Host, endpoint.Port, endpoint.User, methods) { Timeout = options.HandshakeTimeout });
        client.KeepAliveInterval = options.KeepAliveInterval;
        string? refused = null;
        var greeted = false;
        client.HostKeyReceived += (_, e) =>
        {
            var key = PresentedHostKey.From(e);
            refused = hostKeys.Refuse(endpoint, key);
            e.CanTrust = refused is null;
            if (e.CanTrust)
            {
                AcceptedHostKey = key.Fingerprint;
            }
        };
        using var dial = CancellationTokenSource.CreateLinkedTokenSource(ct);
        client.ServerIdentificationReceived += (_, _) => greeted = true;
        dial.CancelAfter(options.DialTimeout);
        // SSH.NET watches the token only until the greeting; past it, only disposing the client stops a stalled handshake.
        var connecting = client.ConnectAsync(dial.Token);
        try
        {
            await connecting.WaitAsync(options.DialTimeout + options.HandshakeTimeout, ct);
            return client;
        }
        catch (Exception e)
        {
            client.Dispose();
            Abandon(connecting);
            ct.ThrowIfCancellationRequested();
            if (refused is not null)
            {
                throw new HostKeyRejectedException(endpoint, refused, e);
            }
            if (e is SshAuthenticationException)
            {
                throw new SshAuthenticationRefusedException(endpoint, credential.Kind, e);
            }
            if (e is TimeoutException or OperationCanceledException or SshOperationTimeoutException)
            {
                throw new TimeoutException(greeted
                    ? $"{endpoint}: no session within {options.HandshakeTimeout.TotalSeconds:0.###}s of the server's greeting"
                    : $"{endpoint}: no SSH greeting within {options.DialTimeout.TotalSeconds:0.###}s", e);
            }
            throw;
        }
        finally
        {
            foreach (var method in methods)
            {
                (method as IDisposable)?.Dispose();
            }
        }
    }

    /// <summary>Disposes a client whose connection may be stuck in a write, without making the caller wait for it.</summary>
    internal static void DisposeInBackground(BaseClient client) =>
        Abandon(Task.Run(client.Dispose, CancellationToken.None));

    /// <summary>Observes a task left running after its caller gave up on it, so its failure is not reported as unobserved.</summary>
    internal static void Abandon(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
}
