using System.Collections.Concurrent;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Worker.Docker;

/// <summary>
/// The images pulls under <c>WORKER_DOCKER_PULL=always</c> took their names from (the old
/// <c>:latest</c>), by id: each is removed once no container uses it (the engine refuses while one
/// does: a job still running on it, a standby made of it), so a host whose tags move does not fill
/// its disk with them. One that another name still gives is not this worker's to remove, and is
/// left. Kept in memory: a worker restarted before their containers went leaves them to the operator.
/// </summary>
public sealed class SupersededImages(IDockerClient client, ILogger logger)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Image id to the name that no longer gives it.</summary>
    private readonly ConcurrentDictionary<string, string> _images = new(StringComparer.Ordinal);

    /// <summary>A pull moved <paramref name="name"/> off image <paramref name="id"/>: it goes now if nothing uses it, else later.</summary>
    public void Add(string id, string name)
    {
        _images[id] = name;
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
                var image = await client.Images.InspectImageAsync(id, call.Token);
                if ((image.RepoTags ?? []).Count == 0)
                {
                    await client.Images.DeleteImageAsync(id, new ImageDeleteParameters { Force = false }, call.Token);
                    logger.LogInformation("Removed image {Id}, which {Image} named before a pull moved it", id, name);
                }
                _images.TryRemove(id, out _);
            }
            catch (Exception e) when (e is DockerImageNotFoundException || e is DockerApiException { StatusCode: HttpStatusCode.NotFound })
            {
                _images.TryRemove(id, out _); // gone already
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
            {
                // In use: the removal of the container that uses it tries again.
            }
            catch (Exception e)
            {
                logger.LogDebug("Could not remove image {Id}, which {Image} named before a pull moved it: {Error}", id, name, e.Message);
            }
        }
    }
}
