using System.Globalization;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Backends.Local;

/// <summary>
/// Bare metal: each job gets a fresh working directory on this host, removed afterwards, and its
/// script runs in its own session so timeout or cancel kills the whole process tree.
/// </summary>
public sealed class LocalBackend(WorkerOptions worker, LocalOptions options) : IBackend
{
    public string Name => "local";

    public Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
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
        var dir = Path.Combine(BuildRoot, id);
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unwritable(e);
        }
        progress.Report($"Using working directory {dir} on {worker.Host}.");
        return Task.FromResult<IInstance>(new LocalInstance(id, dir, options.RunAsUser, Unwritable));
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
    private string BuildRoot => options.WorkDirectory ?? Path.Combine(worker.BaseDirectory, "local");

    /// <summary>A build root this host can't write to (permissions, a full disk) fails every job here: a host failure.</summary>
    private BackendFailureException Unwritable(Exception e) => BackendFailureException.Host(
        $"can't write to the build root {BuildRoot}: {e.Message} (set WORKER_LOCAL_WORK_DIR, else it is BASE_DIR/local)", e);

    /// <summary>Each job's directory goes with its machine; nothing is held for all jobs.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
