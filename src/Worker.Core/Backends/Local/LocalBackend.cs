using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Backends.Local;

/// <summary>
/// Bare metal: each job gets a fresh working directory on this host, removed afterwards, and its
/// script runs in its own session, and in its own cgroup where the host offers one, so timeout,
/// cancel or the end of the job kills the whole process tree.
/// </summary>
public sealed class LocalBackend : IBackend
{
    private readonly WorkerOptions _worker;
    private readonly LocalOptions _options;
    private readonly CgroupHost? _cgroups;

    /// <exception cref="InvalidSettingException">WORKER_LOCAL_CGROUP insists on a cgroup version this host does not offer.</exception>
    public LocalBackend(WorkerOptions worker, LocalOptions options, ILogger? logger = null)
    {
        _worker = worker;
        _options = options;
        logger ??= NullLogger.Instance;
        if (options.CgroupVersion == CgroupHost.Off)
        {
            logger.LogInformation("Local jobs are held by their session only (WORKER_LOCAL_CGROUP=off); a process that starts its own session outlives its job");
            return;
        }
        _cgroups = CgroupHost.Detect(options.CgroupVersion, out var why);
        if (_cgroups is not null)
        {
            logger.LogInformation("Each local job runs in a cgroup of its own, {Cgroups}, killed whole after the job", _cgroups.Description);
        }
        else if (options.CgroupVersion == CgroupHost.Auto)
        {
            logger.LogWarning("No cgroup for local jobs ({Why}): only the script's session is killed, and a process that starts its own session outlives its job", why);
        }
        else
        {
            throw new InvalidSettingException("WORKER_LOCAL_CGROUP", options.CgroupVersion, $"auto, off, or a cgroup version this host offers ({why})");
        }
    }

    /// <summary>What holds a job's processes together: a cgroup (in words), or null when only the session does.</summary>
    public string? Containment => _cgroups?.Description;

    public string Name => "local";

    public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        if (attributes.Image is { Length: > 0 } image)
        {
            progress.Report($"The local backend runs on this host; the image '{image}' is ignored.");
        }
        if (attributes.Privileged)
        {
            throw new JobRefusedException("the local backend does not run privileged jobs");
        }
        if (attributes.Volumes.Count > 0)
        {
            throw new JobRefusedException("the local backend does not mount volumes");
        }
        var id = $"local-{attributes.JobId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}";
        var cgroup = CreateCgroup(id);
        var dir = Path.Combine(BuildRoot, id);
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (cgroup is not null)
            {
                // Nothing ran in it yet: it is empty and goes at once.
                await cgroup.RemoveAsync(TimeSpan.FromSeconds(5));
            }
            throw Unwritable(e);
        }
        progress.Report($"Using working directory {dir} on {_worker.Host}.");
        return new LocalInstance(id, dir, _options.RunAsUser, Unwritable, cgroup, attributes.InheritEnvironment, attributes.InterruptGrace);
    }

    public string ProbeDescription => $"a write to the build root {BuildRoot}";

    /// <summary>Writes and removes a small file in the build root: unwritable or full, and no job can run here.</summary>
    public async Task ProbeAsync(CancellationToken ct)
    {
        var probe = Path.Combine(BuildRoot, $".probe-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(BuildRoot);
            await File.WriteAllTextAsync(probe, "probe\n", ct);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unwritable(e);
        }
    }

    /// <summary>Parent of the jobs' working directories.</summary>
    private string BuildRoot => _options.WorkDirectory ?? Path.Combine(_worker.BaseDirectory, "local");

    /// <summary>The job's own cgroup, or null where the host offers none; one that can't be made fails every job here: a host failure.</summary>
    private JobCgroup? CreateCgroup(string id)
    {
        try
        {
            return _cgroups?.Create(id);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw BackendFailureException.Host($"can't make a cgroup for the job in {_cgroups!.Description}: {e.Message} (WORKER_LOCAL_CGROUP=off does without)", e);
        }
    }

    /// <summary>A build root this host can't write to (permissions, a full disk) fails every job here: a host failure.</summary>
    private BackendFailureException Unwritable(Exception e) => BackendFailureException.Host(
        $"can't write to the build root {BuildRoot}: {e.Message} (set WORKER_LOCAL_WORK_DIR, else it is BASE_DIR/local)", e);

    /// <summary>Each job's directory goes with its machine; nothing is held for all jobs.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
