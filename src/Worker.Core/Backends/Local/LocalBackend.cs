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
        var parent = options.WorkDirectory ?? Path.Combine(worker.BaseDirectory, "local");
        var id = $"local-{attributes.JobId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}";
        var dir = Path.Combine(parent, id);
        Directory.CreateDirectory(dir);
        progress.Report($"Using working directory {dir} on {worker.Host}.");
        return Task.FromResult<IInstance>(new LocalInstance(id, dir, options.RunAsUser));
    }
}
