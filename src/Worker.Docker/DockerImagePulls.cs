using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Core.Jobs;

namespace Worker.Docker;

/// <summary>
/// Pulls of job images from their registries: of an image the host lacks (<c>WORKER_DOCKER_PULL</c>
/// missing or always), and, with always, of one it has before every container, so a tag moved in
/// the registry (<c>:latest</c>) is taken at once, as <c>docker run --pull always</c> does.
/// </summary>
/// <param name="refreshSilenceLimit">How long a refresh may go without progress before the host's copy is used.</param>
/// <param name="supersededFile">Where the images refreshes superseded are kept until removed; null: in memory only.</param>
public sealed class DockerImagePulls(IDockerClient client, ILogger logger, TimeSpan refreshSilenceLimit, string? supersededFile = null)
{
    /// <summary>The images refreshes took their names from, removed once nothing uses them.</summary>
    public SupersededImages Superseded { get; } = new(client, logger, supersededFile);

    /// <summary>
    /// Pulls an image. One the registry doesn't have (or this host may not see) refuses the job,
    /// naming it: asking again won't help. Anything else (registry unreachable, a pull broken off)
    /// fails the start, and the job is requeued.
    /// </summary>
    public Task PullAsync(string image, CancellationToken ct) => PullAsync(image, onProgress: null, ct);

    private async Task PullAsync(string image, Action? onProgress, CancellationToken ct)
    {
        var (repository, tag) = ImageReference.Split(image);
        string? streamError = null;
        try
        {
            // The engine can answer 200 and report the failure inside the progress stream.
            await client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null,
                new PullProgress(m =>
                {
                    streamError ??= m.Error?.Message;
                    onProgress?.Invoke();
                }), ct);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new JobRefusedException($"image '{image}' can't be pulled: {e.ResponseBody?.Trim()}");
        }
        if (streamError is not null)
        {
            throw new InvalidOperationException($"pulling image '{image}' failed: {streamError}");
        }
    }

    /// <summary>
    /// Pulls an image this host has from the registry it came from, so the container gets what its
    /// tag names there now. Not pulled: an image the host lacks (its create pulls it), one fixed by
    /// digest (it can't change), and one never pulled under this name here (a local tag such as
    /// the tag selector's <c>travis:ruby</c>, or a built image: no registry knows it). A pull that
    /// fails, or goes <c>refreshSilenceLimit</c> without progress (a registry that hangs would
    /// otherwise hold every job until its startup timeout, and the host would count as broken),
    /// leaves the host's copy to the job, which the job's log and the worker's warn about.
    /// </summary>
    /// <returns>
    /// The id of the image its name gives on this host now, so a container made of it before (a
    /// standby) can be told stale; null when the host lacks it or its digest fixes it.
    /// </returns>
    public async Task<string?> RefreshAsync(string image, IProgress<string>? progress, CancellationToken ct)
    {
        if (image.Contains('@'))
        {
            return null;
        }
        ImageInspectResponse local;
        try
        {
            local = await client.Images.InspectImageAsync(image, ct);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
        var repository = Familiar(ImageReference.Split(image).Repository);
        if (!(local.RepoDigests ?? []).Any(digest => Familiar(digest.Split('@')[0]) == repository))
        {
            return local.ID;
        }
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(ct);
        silence.CancelAfter(refreshSilenceLimit);
        try
        {
            await PullAsync(image, () => silence.CancelAfter(refreshSilenceLimit), silence.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            var why = silence.IsCancellationRequested ? $"no progress for {Durations.Format(refreshSilenceLimit)}" : e.Message;
            logger.LogWarning("Pulling image {Image} failed ({Error}); its job runs on this host's copy", image, why);
            progress?.Report($"Pulling image {image} failed ({why}); using this host's copy.");
            return local.ID;
        }
        string now;
        try
        {
            now = (await client.Images.InspectImageAsync(image, ct)).ID;
        }
        catch (DockerImageNotFoundException)
        {
            return null; // removed meanwhile; the create pulls it again
        }
        if (now != local.ID)
        {
            Superseded.Add(local.ID, image);
        }
        return now;
    }

    /// <summary>A repository as the engine names it in an image's digests: Docker Hub's host and its library/ left out.</summary>
    private static string Familiar(string repository)
    {
        foreach (var hub in (string[])["docker.io/", "index.docker.io/"])
        {
            if (repository.StartsWith(hub, StringComparison.Ordinal))
            {
                repository = repository[hub.Length..];
                break;
            }
        }
        return repository.StartsWith("library/", StringComparison.Ordinal) && repository.Count(c => c == '/') == 1
            ? repository["library/".Length..]
            : repository;
    }

    /// <summary>Sees each progress message as it is read (<see cref="Progress{T}"/> would post it to the thread pool, too late to check).</summary>
    private sealed class PullProgress(Action<JSONMessage> onMessage) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => onMessage(value);
    }
}
