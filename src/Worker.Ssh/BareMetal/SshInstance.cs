using System.Text;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Logs;

namespace Worker.Ssh.BareMetal;

/// <summary>
/// One job on one host of the pool: its fresh directory there, the script uploaded into it and run
/// in a session of its own (what it leaves running is killed when it exits, everything it started
/// on timeout or cancel), and afterwards the directory removed and the host given back. A host that
/// drops the connection is set aside and the job restarted elsewhere.
/// </summary>
internal sealed class SshInstance : IInstance
{
    private readonly SshHostLease _lease;
    private readonly SshMachine _machine;
    private readonly string _directory;
    private readonly ILogger _logger;

    public SshInstance(string id, string directory, SshHostLease lease, SshMachine machine, ILogger logger)
    {
        Id = id;
        _directory = directory;
        _lease = lease;
        _machine = machine;
        _logger = logger;
    }

    public string Id { get; }

    /// <summary>There is no image: the host is the machine (<c>user@host:port</c>).</summary>
    public string ImageName => _lease.Endpoint.ToString();

    /// <summary>The job's directory on the host (absolute).</summary>
    public string Directory => _directory;

    public async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        try
        {
            await _machine.UploadAsync($"{_directory}/{BuildDirectory.ScriptName}", Encoding.UTF8.GetBytes(script),
                new SshUploadOptions { Attempts = 2, RetryPause = TimeSpan.FromMilliseconds(500) }, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // The directory was made a moment ago over the same login: a failed upload is the host's doing.
            _lease.SetAside($"the script upload failed: {e.Message}");
            throw BackendFailureException.Host($"could not upload the script to {_lease.Endpoint}: {e.Message}", e);
        }
    }

    public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
    {
        var run = await _machine.RunScriptAsync(BuildDirectory.Script(_directory), log, ct);
        if (run.ExitCode is { } code)
        {
            return RunResult.Exited(code);
        }
        _lease.SetAside($"the connection dropped during job {Id}: {run.LostReason}");
        await log.WriteAsync($"\nThe connection to {_lease.Endpoint} was lost ({run.LostReason}); that host is set aside for " +
            $"{Durations.Format(_lease.SetAsideFor)} and the job is restarted.\n", CancellationToken.None);
        return RunResult.Incomplete;
    }

    /// <summary>Kills what is left of the job and removes its directory, then gives the host back, on every path.</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        try
        {
            if (_lease.HostSetAside)
            {
                // It just failed; don't wait on it now. Its next job removes the directory first.
                _lease.Leftovers.Add(_directory);
                return;
            }
            await BuildDirectory.RemoveAsync(_machine, _directory, ct);
        }
        catch (Exception e)
        {
            _lease.Leftovers.Add(_directory);
            _logger.LogWarning("Could not remove {Directory} on {Host} ({Error}); the host's next job removes it first", _directory, _lease.Endpoint, e.Message);
        }
        finally
        {
            await _machine.DisposeAsync();
            _lease.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _machine.DisposeAsync();
        _lease.Dispose();
    }
}
