using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Renci.SshNet;
using Renci.SshNet.Common;
using Worker.Core.Backends;
using Worker.Core.Logs;

namespace Worker.Gce;

/// <summary>
/// One job's VM: uploads the script over SFTP (retried, refusing a VM that already ran a script),
/// runs it in a PTY with the output streamed live into the job log, and reads its exit code. A
/// dropped connection, a missing exit status or a preempted VM is Completed=false (requeue), never
/// a build result. Stop deletes the VM and waits for it unless SKIP_STOP_POLL.
/// </summary>
public sealed class GceInstance : IInstance
{
    private const string ScriptName = "build.sh";

    // SSH.NET's exec channel can't ask for a PTY, so util-linux script(1) makes one on the VM;
    // -e passes the script's exit code on, and stdin from /dev/null keeps a stray read from hanging.
    private const string RunCommand = "TERM=xterm script -qefc 'bash ./" + ScriptName + "' /dev/null </dev/null";

    private readonly ComputeClient _compute;
    private readonly GceOptions _options;
    private readonly string _zone;
    private readonly string? _selfLink;
    private readonly SshConnector _connector;
    private readonly ILogger _logger;
    private SshClient? _ssh;

    internal GceInstance(ComputeClient compute, GceOptions options, string name, string zone, string? selfLink, string image,
        SshConnector connector, SshClient ssh, ILogger logger)
    {
        _compute = compute;
        _options = options;
        Id = name;
        _zone = zone;
        _selfLink = selfLink;
        ImageName = image;
        _connector = connector;
        _ssh = ssh;
        _logger = logger;
    }

    public string Id { get; }
    public string ImageName { get; }
    public string Zone => _zone;

    public async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(script);
        var written = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var sftp = await _connector.ConnectSftpAsync(ct);
                // Only before our own first write: a retry after a broken upload finds our own file.
                if (!written && await ExistsAsync(sftp, ScriptName, ct))
                {
                    throw new StaleVmException($"{Id} already has a {ScriptName}: it ran another job's script");
                }
                written = true;
                await sftp.UploadFileAsync(new MemoryStream(bytes), ScriptName, ct);
                return;
            }
            catch (Exception e) when (e is not (StaleVmException or HostKeyMismatchException) && attempt < _options.UploadAttempts)
            {
                ct.ThrowIfCancellationRequested();
                _logger.LogDebug("Upload to {Name}, attempt {Attempt}: {Error}", Id, attempt, e.Message);
            }
            await Task.Delay(_options.UploadSleep, ct);
        }
    }

    public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
    {
        int? exitStatus = null;
        string? lost = null;
        try
        {
            exitStatus = await RunOverSshAsync(log, ct);
            if (exitStatus is null)
            {
                lost = "the SSH session ended without an exit status";
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is SshException or SocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            lost = "the SSH connection was lost: " + e.Message;
        }
        using var checking = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        if (await WhyGoneAsync(checking.Token) is { } gone)
        {
            await log.WriteAsync($"\r\n{gone}\r\n", CancellationToken.None);
            return RunResult.Incomplete;
        }
        if (lost is not null)
        {
            _logger.LogWarning("Job VM {Name}: {Reason}", Id, lost);
            return RunResult.Incomplete;
        }
        return RunResult.Exited(exitStatus!.Value);
    }

    public async Task StopAsync(CancellationToken ct)
    {
        DisposeSsh();
        await _compute.DeleteInstanceAsync(_zone, Id, _options.NoStopPoll ? null : _options.StopSleep, ct);
    }

    public ValueTask DisposeAsync()
    {
        DisposeSsh();
        return ValueTask.CompletedTask;
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

    private async Task<int?> RunOverSshAsync(IJobLogWriter log, CancellationToken ct)
    {
        if (_ssh is not { IsConnected: true })
        {
            DisposeSsh();
            _ssh = await _connector.ConnectSshAsync(ct);
        }
        using var command = _ssh.CreateCommand(RunCommand);
        var output = new LogWriterStream(log);
        var execution = command.ExecuteAsync(ct);
        var stdout = command.OutputStream.CopyToAsync(output, CancellationToken.None);
        var stderr = command.ExtendedOutputStream.CopyToAsync(output, CancellationToken.None);
        try
        {
            await execution;
        }
        finally
        {
            // Output that arrived before the end is still copied; a stream that never ends can't hold the job.
            await Task.WhenAny(Task.WhenAll(stdout, stderr), Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
        }
        return command.ExitStatus;
    }

    /// <summary>Why the VM went away under the job (preempted, stopped), or null when it is still running.</summary>
    private async Task<string?> WhyGoneAsync(CancellationToken ct)
    {
        try
        {
            if (_selfLink is not null)
            {
                var filter = $"(operationType = \"compute.instances.preempted\") AND (targetLink = \"{_selfLink}\")";
                await foreach (var _ in _compute.AggregatedOperationsAsync(filter, ct))
                {
                    return $"The instance {Id} was preempted by Compute Engine; the job is restarted.";
                }
            }
            var instance = await _compute.GetOrNullAsync<ComputeInstance>($"projects/{_compute.Project}/zones/{_zone}/instances/{Id}", ct);
            return instance is null or { Status: "STOPPING" or "STOPPED" or "TERMINATED" or "SUSPENDED" }
                ? $"The instance {Id} stopped ({instance?.Status ?? "deleted"}) while the job ran; the job is restarted."
                : null;
        }
        catch (Exception e) when (e is ComputeApiException or OperationCanceledException)
        {
            _logger.LogWarning("Could not check whether {Name} was preempted: {Error}", Id, e.Message);
            return null;
        }
    }

    private void DisposeSsh()
    {
        _ssh?.Dispose();
        _ssh = null;
    }
}
