using Worker.Core.Configuration;

namespace Worker.Core.Images;

/// <summary>
/// travis-worker's <c>env</c> image selector (its default on GCE, and one of Docker's), so a fleet's
/// image mappings keep working: every <c>PROVIDER_IMAGE_KEY=IMAGE</c> setting (any naming:
/// <c>WORKER_</c>, <c>TRAVIS_WORKER_</c> or bare; <c>GCE_IMAGE_XENIAL_RUBY</c>,
/// <c>DOCKER_IMAGE_RUBY</c>) maps the lowercased KEY to an image, and a job that names no image gets
/// the image of the most specific key its attributes make, from <c>dist_xenial_group_stable_ruby</c>
/// down to <c>linux</c>; then, as there, an image that is itself a key is looked up once more.
/// None: the backend's default image.
/// </summary>
public sealed class EnvImageSelector(IReadOnlyDictionary<string, string> mappings) : IImageSelector
{
    /// <summary>
    /// The mappings the settings hold under <paramref name="keyPrefix"/> (<c>GCE_IMAGE_</c>), by
    /// lowercased key (<c>GCE_IMAGE_XENIAL_RUBY</c> is <c>xenial_ruby</c>).
    /// </summary>
    public static IReadOnlyDictionary<string, string> MappingsFrom(SettingsSource settings, string keyPrefix)
    {
        var mappings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (_, key, _) in settings.WorkerVariables())
        {
            if (key.StartsWith(keyPrefix, StringComparison.Ordinal) && key.Length > keyPrefix.Length && settings.Find(key) is { } found)
            {
                mappings[key[keyPrefix.Length..].ToLowerInvariant()] = found.Value;
            }
        }
        return mappings;
    }

    /// <summary>
    /// The image mapped for the job, or null for the default: travis-worker's name <c>default</c>
    /// (no key matched, or a mapping says so) meant the backend's default image.
    /// </summary>
    public Task<string?> SelectAsync(ImageQuery query, CancellationToken ct) =>
        Task.FromResult(For(query) is { } image && image != "default" ? image : null);

    /// <summary>The image mapped for the job's attributes, or null when no key matches.</summary>
    public string? For(ImageQuery job)
    {
        var chosen = CandidateKeys(job).Select(key => mappings.GetValueOrDefault(key)).FirstOrDefault(pattern => pattern is not null);
        if (chosen is null)
        {
            return null;
        }
        // travis-worker's one level of indirection: a mapping may name another key (an alias).
        return mappings.GetValueOrDefault(chosen.ToLowerInvariant()) ?? chosen;
    }

    /// <summary>travis-worker's candidate keys, most specific first.</summary>
    public static IEnumerable<string> CandidateKeys(ImageQuery job)
    {
        var (language, dist, group, os) = (Part(job.Language), Part(job.Dist), Part(job.Group), Part(job.Os));
        if (dist is not null && group is not null && language is not null)
        {
            yield return $"dist_{dist}_group_{group}_{language}";
            yield return $"{dist}_{group}_{language}";
        }
        if (dist is not null && language is not null)
        {
            yield return $"dist_{dist}_{language}";
            yield return $"{dist}_{language}";
        }
        if (group is not null && language is not null)
        {
            yield return $"group_{group}_{language}";
            yield return $"{group}_{language}";
        }
        if (os is not null && language is not null)
        {
            yield return $"os_{os}_{language}";
            yield return $"{os}_{language}";
        }
        if (dist is not null)
        {
            yield return $"default_dist_{dist}";
            yield return $"dist_{dist}";
            yield return dist;
        }
        if (group is not null)
        {
            yield return $"default_group_{group}";
            yield return $"group_{group}";
            yield return group;
        }
        if (language is not null)
        {
            yield return $"language_{language}";
            yield return language;
        }
        if (os is not null)
        {
            yield return $"default_os_{os}";
            yield return $"os_{os}";
            yield return os;
        }
    }

    private static string? Part(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim().ToLowerInvariant();
}
