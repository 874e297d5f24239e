using Renci.SshNet;

namespace Worker.Gce;

/// <summary>Opens SSH and SFTP connections to one job VM with its job's key and its pinned host key.</summary>
public sealed class SshConnector(string host, int port, string user, SshKeyPair key, TimeSpan dialTimeout)
{
    public HostKeyPin Pin { get; } = new();

    public string Host => host;

    public async Task<SshClient> ConnectSshAsync(CancellationToken ct)
    {
        var client = new SshClient(Connection());
        return await ConnectAsync(client, ct);
    }

    public async Task<SftpClient> ConnectSftpAsync(CancellationToken ct)
    {
        var client = new SftpClient(Connection());
        return await ConnectAsync(client, ct);
    }

    /// <summary>Tries to connect until it works or <paramref name="ct"/> fires; a refused host key is final.</summary>
    public async Task<SshClient> WaitForSshAsync(TimeSpan pollSleep, Action<int, Exception> onFailedAttempt, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await ConnectSshAsync(ct);
            }
            catch (Exception e) when (e is not HostKeyMismatchException)
            {
                // An attempt cut short by the caller's deadline is the deadline's failure, not SSH's.
                ct.ThrowIfCancellationRequested();
                onFailedAttempt(attempt, e);
            }
            await Task.Delay(pollSleep, ct);
        }
    }

    private ConnectionInfo Connection() =>
        new(host, port, user, new PrivateKeyAuthenticationMethod(user, key.OpenPrivateKey())) { Timeout = dialTimeout };

    private async Task<T> ConnectAsync<T>(T client, CancellationToken ct) where T : BaseClient
    {
        client.HostKeyReceived += Pin.Check;
        try
        {
            using var dial = CancellationTokenSource.CreateLinkedTokenSource(ct);
            dial.CancelAfter(dialTimeout);
            await client.ConnectAsync(dial.Token);
            return client;
        }
        catch (Exception e)
        {
            client.Dispose();
            if (Pin.Refused is { } refused)
            {
                throw new HostKeyMismatchException($"{host}:{port} presented host key {refused}, not the pinned {Pin.Fingerprint}", e);
            }
            throw;
        }
    }
}
