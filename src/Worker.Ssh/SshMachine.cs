using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Renci.SshNet;
using Renci.SshNet.Common;
using Worker.Core.Logs;

namespace Worker.Ssh;

/// <summary>
/// One machine reached over SSH, for as long as a job uses it: wait for its sshd, upload files over
/// SFTP, run the job's script with its output streamed live and read its exit status, and kill what
/// the script started when the job is cancelled or times out. A connection lost before the exit
/// status arrived is reported as lost, never as an exit. Every backend that reaches its machine over
/// SSH (GCE, Tart, Vetu, bare metal) runs jobs through this.
/// </summary>
public sealed class SshMachine : IAsyncDisposable
{
    // Output that arrived before the end is still copied; a stream that never ends can't hold the job.
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromSeconds(5);

    // How long a script's channel may take to close by itself once its sessions were killed, before it is signalled.
    private static readonly TimeSpan KilledChannelGrace = TimeSpan.FromSeconds(2);

    private readonly SshConnector _connector;
    private readonly SshConnectOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _clientLock = new(1, 1);
    private SshClient? _client;

    public SshMachine(SshEndpoint endpoint, SshCredential credential, HostKeyPolicy hostKeys, SshConnectOptions options, ILogger logger)
    {
        options.Validate();
        Endpoint = endpoint;
        _options = options;
        _logger = logger;
        _connector = new SshConnector(endpoint, credential, hostKeys, options, logger);
    }

    public SshEndpoint Endpoint { get; }

    /// <summary>Fingerprint of the host key accepted at the last connection (<c>SHA256:...</c>), or null before one.</summary>
    public string? HostKeyFingerprint => _connector.AcceptedHostKey;

    /// <summary>
    /// Waits until the machine's sshd takes us, retrying as <see cref="SshConnectOptions"/> says, and
    /// keeps the session for the runs that follow. Throws a <see cref="SshHostException"/> when the
    /// host key or the credential is refused or the attempts run out, and
    /// <see cref="OperationCanceledException"/> when <paramref name="ct"/> ends first.
    /// </summary>
    public Task ConnectAsync(CancellationToken ct) => ClientAsync(waitForSsh: true, ct);

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="remotePath"/> (relative: to the login
    /// directory) over SFTP, each attempt on a fresh SFTP session. <paramref name="ct"/> bounds the
    /// whole upload: when it ends, the transfer is abandoned at once.
    /// </summary>
    public Task UploadAsync(string remotePath, ReadOnlyMemory<byte> content, SshUploadOptions? options, CancellationToken ct) =>
        SshTracing.TraceAsync("upload", Endpoint, () => UploadWithRetriesAsync(remotePath, content, options, ct));

    private async Task UploadWithRetriesAsync(string remotePath, ReadOnlyMemory<byte> content, SshUploadOptions? options, CancellationToken ct)
    {
        options ??= SshUploadOptions.Once;
        var written = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var sftp = await SftpAsync(attempt, ct);
                var uploaded = false;
                try
                {
                    // Only before our own first write: a retry after a broken upload finds our own file.
                    if (options.RefuseExisting && !written && await UntilCancelledAsync(ExistsAsync(sftp, remotePath, ct), ct))
                    {
                        throw new RemoteFileExistsException(Endpoint, remotePath);
                    }
                    written = true;
                    using var stream = MemoryMarshal.TryGetArray(content, out var array)
                        ? new MemoryStream(array.Array!, array.Offset, array.Count, writable: false)
                        : new MemoryStream(content.ToArray(), writable: false);
                    // SSH.NET writes synchronously inside UploadFileAsync and blocks in a socket write while a
                    // frozen server's window or buffer is full, without looking at ct: on its own thread, the cancel still ends the wait.
                    await UntilCancelledAsync(Task.Run(() => sftp.UploadFileAsync(stream, remotePath, ct), CancellationToken.None), ct);
                    uploaded = true;
                    return;
                }
                finally
                {
                    if (uploaded)
                    {
                        sftp.Dispose();
                    }
                    else
                    {
                        // Closing waits for the write still blocked on the socket, which ends only with the connection.
                        SshConnector.DisposeInBackground(sftp);
                    }
                }
            }
            catch (Exception e) when (e is not (RemoteFileExistsException or HostKeyRejectedException or OperationCanceledException)
                                      && attempt < options.Attempts)
            {
                _logger.LogDebug("Upload of {Path} to {Endpoint}, attempt {Attempt}: {Error}", remotePath, Endpoint, attempt, e.Message);
            }
            await Task.Delay(options.RetryPause, ct);
        }
    }

    /// <summary>
    /// Runs <paramref name="script"/> with stdout and stderr streamed into <paramref name="log"/> as
    /// they arrive. Returns its exit status, or <see cref="SshRunResult.Lost"/> when the connection
    /// ended without one. When <paramref name="ct"/> ends, every process of the script's sessions is
    /// killed (over the same connection, or a new one) before this throws
    /// <see cref="OperationCanceledException"/>. What the script left running when it exited is killed too.
    /// </summary>
    public async Task<SshRunResult> RunScriptAsync(RemoteScript script, IJobLogWriter log, CancellationToken ct)
    {
        var (client, unreachable) = await ClientForRunAsync(ct);
        if (client is null)
        {
            return unreachable!;
        }
        var command = client.CreateCommand(JobSession.RunCommand(script));
        var output = new LogWriterStream(log);
        // The streams exist before the start, so no output is missed.
        var stdout = command.OutputStream.CopyToAsync(output, CancellationToken.None);
        var stderr = command.ExtendedOutputStream.CopyToAsync(output, CancellationToken.None);
        var start = CommandStart.Begin(command);
        var abandoned = false;
        try
        {
            await start.Execution.WaitAsync(ct);
            return Ended(command);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            var killed = await KillAsync(script);
            // A signal on its channel is the last resort, for a kill that failed or a script that started after it.
            start.Abandon(running => Signal(running, script.Path), killed ? KilledChannelGrace : TimeSpan.Zero);
            abandoned = true;
            throw;
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            return SshRunResult.Lost($"the SSH connection to {Endpoint} was lost: {e.Message}");
        }
        finally
        {
            await EndRunAsync(start, command, Task.WhenAll(stdout, stderr), abandoned);
        }
    }

    /// <summary>
    /// Starts the account's login shell and writes <paramref name="input"/> into its stdin, then
    /// closes it, as cirrus-cli feeds a shell session (so <c>~/.profile</c> and the like apply). Each
    /// line of its stdout and stderr goes to <paramref name="line"/>, from either of two threads.
    /// Returns its exit status, or <see cref="SshRunResult.Lost"/> when the session ended without one.
    /// When <paramref name="ct"/> ends, the shell is signalled and its session closed before this
    /// throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<SshRunResult> RunInLoginShellAsync(string input, Action<string> line, CancellationToken ct)
    {
        var (client, unreachable) = await ClientForRunAsync(ct);
        if (client is null)
        {
            return unreachable!;
        }
        // SSH.NET's shell channel reports no exit status, so an exec channel starts the login shell.
        var command = client.CreateCommand("exec \"$SHELL\" -l");
        var stdout = ReadLinesAsync(command.OutputStream, line);
        var stderr = ReadLinesAsync(command.ExtendedOutputStream, line);
        var start = CommandStart.Begin(command);
        var abandoned = false;
        try
        {
            await start.Opened.WaitAsync(ct);
            await using (var stdin = command.CreateInputStream())
            {
                await stdin.WriteAsync(System.Text.Encoding.UTF8.GetBytes(input), ct);
            }
            await start.Execution.WaitAsync(ct);
            return Ended(command);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            start.Abandon(running => Signal(running, "a login shell"));
            abandoned = true;
            throw;
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            return SshRunResult.Lost($"the SSH session on {Endpoint} failed: {e.Message}");
        }
        finally
        {
            await EndRunAsync(start, command, Task.WhenAll(stdout, stderr), abandoned);
        }
    }

    /// <summary>The open session for a run, or, when reconnecting failed, the run's result saying so.</summary>
    private async Task<(SshClient? Client, SshRunResult? Unreachable)> ClientForRunAsync(CancellationToken ct)
    {
        try
        {
            return (await ClientAsync(waitForSsh: false, ct), null);
        }
        catch (Exception e) when (IsConnectionFailure(e) && !ct.IsCancellationRequested)
        {
            return (null, SshRunResult.Lost($"could not reconnect to {Endpoint}: {e.Message}"));
        }
    }

    /// <summary>After a run: its output still on the way is copied (for a while at most), and the command disposed unless it was left to its killer.</summary>
    private static async Task EndRunAsync(CommandStart start, SshCommand command, Task output, bool abandoned)
    {
        if (start.Started)
        {
            await Task.WhenAny(output, Task.Delay(OutputDrainLimit, CancellationToken.None));
        }
        if (!abandoned)
        {
            command.Dispose();
        }
    }

    private static async Task ReadLinesAsync(Stream stream, Action<string> line)
    {
        using var reader = new StreamReader(stream, leaveOpen: true);
        try
        {
            while (await reader.ReadLineAsync() is { } text)
            {
                line(text);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The session went; what came before it was passed on.
        }
    }

    /// <summary>What a script's session that ended says: its exit status, or lost without one.</summary>
    private SshRunResult Ended(SshCommand command)
    {
        if (command.ExitStatus is { } code)
        {
            return SshRunResult.Exited(code);
        }
        return SshRunResult.Lost(command.ExitSignal is { } signal
            ? $"the SSH session on {Endpoint} ended by signal {signal} without an exit status"
            : $"the SSH session on {Endpoint} ended without an exit status");
    }

    /// <summary>
    /// Runs a short command (through the login shell) and returns its status and output; for set-up
    /// and clean-up steps such as making a build directory. When <paramref name="ct"/> ends, the
    /// command is signalled and this throws.
    /// </summary>
    public async Task<SshCommandResult> RunCommandAsync(string commandText, CancellationToken ct)
    {
        var client = await ClientAsync(waitForSsh: false, ct);
        var command = client.CreateCommand(commandText);
        var start = CommandStart.Begin(command);
        try
        {
            await start.Execution.WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            start.Abandon(running => Signal(running, commandText));
            throw;
        }
        catch
        {
            command.Dispose();
            throw;
        }
        using (command)
        {
            return new SshCommandResult(command.ExitStatus, command.Result, command.Error);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client?.Dispose();
        _client = null;
        return ValueTask.CompletedTask;
    }

    /// <summary>The open session, or a new one: one attempt, or as many as the options allow when <paramref name="waitForSsh"/>.</summary>
    private async Task<SshClient> ClientAsync(bool waitForSsh, CancellationToken ct)
    {
        await _clientLock.WaitAsync(ct);
        try
        {
            if (_client is not { IsConnected: true })
            {
                _client?.Dispose();
                _client = null;
                _client = waitForSsh ? await _connector.WaitForSshAsync(ct) : await _connector.ConnectSshAsync(ct);
            }
            return _client;
        }
        finally
        {
            _clientLock.Release();
        }
    }

    /// <summary>Kills every process of the script's sessions (over the same connection, or a new one); never throws. Says whether the kill ran.</summary>
    private async Task<bool> KillAsync(RemoteScript script)
    {
        using var budget = new CancellationTokenSource(_options.KillTimeout);
        try
        {
            var result = await RunCommandAsync(JobSession.KillCommand(script), budget.Token);
            _logger.LogDebug("Killed the processes of {Script} on {Endpoint} (status {Status})", script.Path, Endpoint, result.ExitCode);
            return result.ExitCode == 0;
        }
        catch (Exception e)
        {
            _logger.LogWarning("Could not kill the processes of {Script} on {Endpoint}: {Error}", script.Path, Endpoint, e.Message);
            return false;
        }
    }

    /// <summary>Kills <paramref name="command"/> through its channel, if it got one; never throws.</summary>
    private void Signal(SshCommand command, string what)
    {
        try
        {
            command.CancelAsync(forceKill: true, millisecondsTimeout: 0);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or SshException)
        {
            _logger.LogDebug("Could not signal {What} on {Endpoint}: {Error}", what, Endpoint, e.Message);
        }
    }

    /// <summary>A fresh SFTP session; a host that can't be reached is named as such, so a caller can set it aside.</summary>
    private async Task<SftpClient> SftpAsync(int attempt, CancellationToken ct)
    {
        try
        {
            return await _connector.ConnectSftpAsync(ct);
        }
        catch (Exception e) when (e is not (SshHostException or OperationCanceledException))
        {
            throw new SshUnreachableException(Endpoint, attempt, e);
        }
    }

    // SftpClient.Exists asks for the real path, which OpenSSH answers for missing files too.
    private static async Task<bool> ExistsAsync(SftpClient sftp, string path, CancellationToken ct)
    {
        try
        {
            await sftp.GetAttributesAsync(path, ct);
            return true;
        }
        catch (SftpPathNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Waits for <paramref name="work"/>, or leaves it behind the moment <paramref name="ct"/> ends (its session is disposed by the caller).</summary>
    private static async Task UntilCancelledAsync(Task work, CancellationToken ct)
    {
        try
        {
            await work.WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            SshConnector.Abandon(work);
            throw;
        }
    }

    private static async Task<T> UntilCancelledAsync<T>(Task<T> work, CancellationToken ct)
    {
        await UntilCancelledAsync((Task)work, ct);
        return await work;
    }

    private static bool IsConnectionFailure(Exception e) =>
        e is SshException or SocketException or IOException or ObjectDisposedException or InvalidOperationException or TimeoutException;
}
