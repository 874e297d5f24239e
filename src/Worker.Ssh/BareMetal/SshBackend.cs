using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Ssh.BareMetal;

/// <summary>
/// Jobs on a pool of existing machines reached over SSH (GitLab Runner's ssh executor: Mac minis,
/// dedicated hosts), one job per host at a time. A job takes a free host, logs in, gets a fresh
/// directory under the build root and runs there. A host that refuses the login (unreachable,
/// credentials or host key refused, build root unusable) is set aside for
/// <c>WORKER_SSH_HOST_RETRY</c> and the next free host is tried; only when every host is set aside
/// does the job go back to the queue, as this worker's failure (not counted against the job).
/// </summary>
public sealed class SshBackend : IBackend, IMachineLimit
{
    private readonly SshOptions _options;
    private readonly SshHostPool _pool;
    private readonly ILogger _logger;

    public SshBackend(SshOptions options, ILogger<SshBackend> logger)
    {
        _options = options;
        _logger = logger;
        _pool = new SshHostPool(options.Endpoints, options.SetAsideFor, logger);
        if (options.AcceptsAnyHostKey)
        {
            logger.LogWarning("{Warning}", SshOptions.InsecureWarning);
        }
    }

    public string Name => "ssh";

    /// <summary>One job per host.</summary>
    public int MaxConcurrentJobs => _pool.Count;

    public string MachineLimitReason => $"the {_pool.Count} host(s) of WORKER_SSH_HOSTS, which run one job each";

    public string ProbeDescription =>
        $"an SSH login to an idle host of WORKER_SSH_HOSTS ({_pool.Count} host(s)) and a write check of its build root {_options.Root}";

    public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        if (attributes.Volumes.Count > 0)
        {
            throw new JobRefusedException("the ssh backend does not mount volumes");
        }
        if (attributes.Privileged)
        {
            throw new JobRefusedException("the ssh backend does not run privileged jobs");
        }
        if (attributes.Image is { Length: > 0 } image)
        {
            progress.Report($"The ssh backend runs on existing hosts; the image '{image}' is ignored.");
        }
        if (_options.AcceptsAnyHostKey)
        {
            progress.Report("WARNING: " + SshOptions.InsecureWarning);
        }
        var jobId = attributes.JobId.ToString(CultureInfo.InvariantCulture);
        var id = $"ssh-{jobId}-{Guid.NewGuid().ToString("N")[..8]}";
        while (true)
        {
            // Each pass sets a failing host aside, so this ends: with a host, a wait for one, or "every host is set aside".
            var lease = await _pool.LeaseAsync("job " + jobId, progress, ct);
            var machine = new SshMachine(lease.Endpoint, _options.Credential, _options.HostKeys, _options.Connect, _logger);
            try
            {
                progress.Report($"Logging in to {lease.Endpoint}");
                await machine.ConnectAsync(ct);
                await RemoveLeftoversAsync(lease, machine, ct);
                var directory = await CreateDirectoryAsync(machine, id, ct);
                lease.Working();
                var checkedKey = _options.AcceptsAnyHostKey ? "not checked" : "listed in WORKER_SSH_KNOWN_HOSTS";
                progress.Report($"Running on {lease.Endpoint} (host key {machine.HostKeyFingerprint}, {checkedKey}) in {directory}");
                return new SshInstance(id, directory, lease, machine, _logger);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                var reason = WhyUnusable(e);
                lease.SetAside(reason);
                progress.Report($"Host {lease.Endpoint} is set aside for {Durations.Format(_options.SetAsideFor)}: {reason}");
                await machine.DisposeAsync();
                lease.Dispose();
            }
            catch
            {
                await machine.DisposeAsync();
                lease.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Logs in to each host no job holds and checks its build root; a host that answers is taken
    /// back at once. Succeeds when one answers, or some host runs a job (a job that needs a host
    /// waits for it).
    /// </summary>
    public async Task ProbeAsync(CancellationToken ct)
    {
        var idle = _pool.Idle();
        var failures = await Task.WhenAll(idle.Select(endpoint => ProbeHostAsync(endpoint, ct)));
        if (idle.Count < _pool.Count || failures.Any(f => f is null))
        {
            return;
        }
        throw BackendFailureException.Host($"no host of WORKER_SSH_HOSTS takes a login: {string.Join("; ", failures)}");
    }

    /// <summary>Null when the host works, else why not (and it is set aside).</summary>
    private async Task<string?> ProbeHostAsync(SshEndpoint endpoint, CancellationToken ct)
    {
        await using var machine = new SshMachine(endpoint, _options.Credential, _options.HostKeys, _options.Connect with { MaxAttempts = 1 }, _logger);
        try
        {
            await machine.ConnectAsync(ct);
            var check = await machine.RunCommandAsync(BuildDirectory.CheckRootCommand(_options.Root), ct);
            if (check.ExitCode != 0)
            {
                throw new IOException($"can't make job directories under {_options.Root}: {check.Error.Trim()}");
            }
            _pool.Working(endpoint);
            return null;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            var reason = WhyUnusable(e);
            _pool.SetAside(endpoint, reason);
            return $"{endpoint}: {reason}";
        }
    }

    /// <summary>Job directories an earlier job could not remove (its host dropped out); a failure here leaves them for the next job.</summary>
    private async Task RemoveLeftoversAsync(SshHostLease lease, SshMachine machine, CancellationToken ct)
    {
        foreach (var directory in lease.Leftovers.ToList())
        {
            try
            {
                await BuildDirectory.RemoveAsync(machine, directory, ct);
                lease.Leftovers.Remove(directory);
                _logger.LogInformation("Removed {Directory} on {Host}, left by an earlier job", directory, lease.Endpoint);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning("Could not remove {Directory} on {Host}, left by an earlier job: {Error}", directory, lease.Endpoint, e.Message);
            }
        }
    }

    private async Task<string> CreateDirectoryAsync(SshMachine machine, string id, CancellationToken ct)
    {
        var made = await machine.RunCommandAsync(BuildDirectory.CreateCommand(_options.Root, id), ct);
        var path = made.Output.Trim();
        if (made.ExitCode != 0 || !path.StartsWith('/'))
        {
            throw new IOException($"can't make a job directory under {_options.Root} (WORKER_SSH_BUILD_ROOT): {made.Error.Trim()}");
        }
        return path;
    }

    /// <summary>Nothing outlives a job: each job's login and its host go with its machine.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Why a host can't take jobs, naming the setting to check where one is at fault.</summary>
    private static string WhyUnusable(Exception e) => e switch
    {
        HostKeyRejectedException => $"{e.Message} (check WORKER_SSH_KNOWN_HOSTS)",
        SshAuthenticationRefusedException => $"{e.Message} (check WORKER_SSH_USER and WORKER_SSH_KEY_PATH or WORKER_SSH_PASSWORD)",
        _ => e.Message,
    };
}
