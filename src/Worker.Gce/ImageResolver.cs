using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Worker.Core.Jobs;

namespace Worker.Gce;

/// <summary>
/// Finds the image for a job: the newest READY image in the image project whose whole name matches
/// the job's image (a name or a regular expression) or IMAGE_DEFAULT. Answers are cached for a few
/// minutes, so a newly published image is picked up without a restart.
/// </summary>
public sealed class ImageResolver(ComputeClient compute, string imageProject, string defaultPattern, TimeProvider? clock = null)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, (ComputeImage Image, DateTimeOffset Until)> _cache = new();

    public async Task<ComputeImage> ResolveAsync(string? requested, CancellationToken ct)
    {
        var pattern = string.IsNullOrWhiteSpace(requested) ? defaultPattern : requested.Trim();
        var now = _clock.GetUtcNow();
        if (_cache.TryGetValue(pattern, out var cached) && cached.Until > now)
        {
            return cached.Image;
        }
        Regex regex;
        try
        {
            regex = new Regex($"^(?:{pattern})$", RegexOptions.None, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            throw new JobRefusedException($"the image '{pattern}' is neither an image name nor a regular expression");
        }
        var candidates = new List<ComputeImage>();
        await foreach (var image in compute.ListAsync<ComputeImage>($"projects/{imageProject}/global/images", $"name eq {pattern}", ct))
        {
            // The filter narrows the list; the match here decides, whatever the server's filter dialect.
            if (regex.IsMatch(image.Name) && image.Status is null or "READY")
            {
                candidates.Add(image);
            }
        }
        var newest = candidates
            .OrderByDescending(i => DateTimeOffset.TryParse(i.CreationTimestamp, out var t) ? t : DateTimeOffset.MinValue)
            .ThenByDescending(i => i.Name, StringComparer.Ordinal)
            .FirstOrDefault()
            ?? throw new JobRefusedException($"no image in project {imageProject} matches '{pattern}'");
        _cache[pattern] = (newest, now + CacheFor);
        return newest;
    }
}
