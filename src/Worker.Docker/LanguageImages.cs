using System.Collections.Frozen;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using Worker.Core.Images;

namespace Worker.Docker;

/// <summary>
/// travis-worker's <c>tag</c> image selector, so a host whose operator tagged its images for it
/// keeps working: a job that names no image of its own runs on the host's image tagged
/// <c>travis:LANGUAGE</c>, else <c>travis:default</c>, else on <c>WORKER_DOCKER_IMAGE_DEFAULT</c>.
/// travis-worker also looked for the bare <c>LANGUAGE</c> and <c>default</c>, but compared them with
/// the engine's tags, which always name a tag (<c>ruby:latest</c>), so those never matched: the
/// official <c>ruby</c> image pulled on a host was never taken for a ruby job, and is not here. The
/// host's tags are listed at most once a minute, so a job pays no request for them.
/// </summary>
public sealed partial class LanguageImages(IDockerClient client, TimeProvider clock) : IImageSelector
{
    private static readonly TimeSpan Fresh = TimeSpan.FromMinutes(1);
    private readonly SemaphoreSlim _listing = new(1, 1);
    private volatile Listed? _listed;

    private sealed record Listed(DateTimeOffset At, FrozenSet<string> Tags);

    public Task<string?> SelectAsync(ImageQuery query, CancellationToken ct) => ForAsync(query.Language ?? "default", ct);

    /// <summary>The image the host's tags choose for <paramref name="language"/>, or null when none is tagged for it.</summary>
    public async Task<string?> ForAsync(string language, CancellationToken ct)
    {
        var tags = await TagsAsync(ct);
        return tags.Count == 0 ? null : Candidates(language).FirstOrDefault(tags.Contains);
    }

    /// <summary>The references the selector looks for, in order, as the engine lists its tags.</summary>
    public static IEnumerable<string> Candidates(string language)
    {
        var name = language.Trim().ToLowerInvariant();
        // A language that can't be a tag (travis-yml normalizes them, but a payload may say anything) is looked for as default.
        if (name != "default" && ReferencePart().IsMatch(name))
        {
            yield return "travis:" + name;
        }
        yield return "travis:default";
    }

    private async Task<FrozenSet<string>> TagsAsync(CancellationToken ct)
    {
        if (_listed is { } listed && clock.GetUtcNow() - listed.At < Fresh)
        {
            return listed.Tags;
        }
        await _listing.WaitAsync(ct);
        try
        {
            if (_listed is { } again && clock.GetUtcNow() - again.At < Fresh)
            {
                return again.Tags;
            }
            var images = await client.Images.ListImagesAsync(new ImagesListParameters(), ct);
            var tags = images.SelectMany(i => i.RepoTags ?? []).ToFrozenSet(StringComparer.Ordinal);
            _listed = new Listed(clock.GetUtcNow(), tags);
            return tags;
        }
        finally
        {
            _listing.Release();
        }
    }

    [GeneratedRegex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$")]
    private static partial Regex ReferencePart();
}
