using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Worker.Docker;

/// <summary>
/// The images pulls under <c>WORKER_DOCKER_PULL=always</c> took their names from (the old
/// <c>:latest</c>), by id: each is removed once no container uses it (the engine refuses while one
/// does: a job still running on it, a standby made of it), so a host whose tags move does not fill
/// its disk with them. One that another name still gives is not this worker's to remove, and is
/// left. They are kept in a file too (<c>WORKER_BASE_DIR/docker/superseded-images.json</c>), so a
/// worker restarted while a container still used one removes it when it starts again; workers
/// sharing the folder share the file, each change made under the file's lock.
/// </summary>
public sealed class SupersededImages
{
    public const string FileName = "superseded-images.json";

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly IDockerClient _client;
    private readonly ILogger _logger;
    private readonly string? _path;

    /// <summary>Image id to the name that no longer gives it.</summary>
    private readonly ConcurrentDictionary<string, string> _images = new(StringComparer.Ordinal);

    /// <param name="client">The engine.</param>
    /// <param name="logger">Says what was removed.</param>
    /// <param name="path">The file, read now when it exists; null: kept in memory only.</param>
    public SupersededImages(IDockerClient client, ILogger logger, string? path = null)
    {
        _client = client;
        _logger = logger;
        _path = path;
        if (path is not null && File.Exists(path))
        {
            foreach (var (id, name) in Change(change: null))
            {
                _images[id] = name;
            }
        }
    }

    /// <summary>A pull moved <paramref name="name"/> off image <paramref name="id"/>: it goes now if nothing uses it, else later.</summary>
    public void Add(string id, string name)
    {
        _images[id] = name;
        Change(images => images[id] = name);
        RemoveUnused();
    }

    /// <summary>Tries, in the background, to remove those no container uses now; call once a container of this worker is removed.</summary>
    public void RemoveUnused()
    {
        if (!_images.IsEmpty)
        {
            _ = RemoveUnusedAsync();
        }
    }

    /// <summary>As <see cref="RemoveUnused"/>, awaited. Never throws.</summary>
    public async Task RemoveUnusedAsync()
    {
        foreach (var (id, name) in _images)
        {
            try
            {
                using var call = new CancellationTokenSource(CallTimeout);
                var image = await _client.Images.InspectImageAsync(id, call.Token);
                if ((image.RepoTags ?? []).Count == 0)
                {
                    await _client.Images.DeleteImageAsync(id, new ImageDeleteParameters { Force = false }, call.Token);
                    _logger.LogInformation("Removed image {Id}, which {Image} named before a pull moved it", id, name);
                }
                Forget(id);
            }
            catch (Exception e) when (e is DockerImageNotFoundException || e is DockerApiException { StatusCode: HttpStatusCode.NotFound })
            {
                Forget(id); // gone already
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
            {
                // In use: the removal of the container that uses it tries again.
            }
            catch (Exception e)
            {
                _logger.LogDebug("Could not remove image {Id}, which {Image} named before a pull moved it: {Error}", id, name, e.Message);
            }
        }
    }

    private void Forget(string id)
    {
        if (_images.TryRemove(id, out _))
        {
            Change(images => images.Remove(id));
        }
    }

    /// <summary>
    /// Reads the file, applies <paramref name="change"/> (if any) and writes it back, under the file's
    /// lock; returns what it holds now. A file that can't be read or written costs only the restart case:
    /// it is logged and the images stay in memory.
    /// </summary>
    private Dictionary<string, string> Change(Action<Dictionary<string, string>>? change)
    {
        var images = new Dictionary<string, string>(StringComparer.Ordinal);
        if (_path is null)
        {
            return images;
        }
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            using var file = OpenLocked(_path);
            if (file.Length > 0)
            {
                try
                {
                    images = JsonSerializer.Deserialize<Dictionary<string, string>>(file) ?? images;
                }
                catch (JsonException e)
                {
                    _logger.LogWarning("{Path} could not be read ({Error}); starting it again", _path, e.Message);
                }
            }
            if (change is null)
            {
                return images;
            }
            change(images);
            file.SetLength(0);
            JsonSerializer.Serialize(file, images);
            return images;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("Could not keep the images a pull superseded in {Path} ({Error}); a restarted worker leaves those still in use to the operator", _path, e.Message);
            return images;
        }
    }

    /// <summary>The file opened for this process alone: another worker of the host changing it meanwhile waits a moment.</summary>
    private static FileStream OpenLocked(string path)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 50)
            {
                Thread.Sleep(20);
            }
        }
    }
}
