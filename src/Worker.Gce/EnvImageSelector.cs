using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Gce;

/// <summary>
/// travis-worker's <c>env</c> image selector, its default on GCE, so a fleet's image mappings keep
/// working: every <c>GCE_IMAGE_KEY=PATTERN</c> setting (any naming: <c>WORKER_</c>,
/// <c>TRAVIS_WORKER_</c> or bare) maps the lowercased KEY to an image pattern, and a job that names
/// no image gets the pattern of the most specific key its attributes make, from
/// <c>dist_xenial_group_stable_ruby</c> down to <c>linux</c>; then, as there, a pattern that is
/// itself a key is looked up once more. None: <c>WORKER_GCE_IMAGE_DEFAULT</c>.
/// </summary>
public sealed class EnvImageSelector(IReadOnlyDictionary<string, string> mappings)
{
    public const string KeyPrefix = "GCE_IMAGE_";

    /// <summary>The mappings the settings hold, by lowercased key (<c>GCE_IMAGE_XENIAL_RUBY</c> is <c>xenial_ruby</c>).</summary>
    public static IReadOnlyDictionary<string, string> MappingsFrom(SettingsSource settings)
    {
        var mappings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (_, key, _) in settings.WorkerVariables())
        {
            if (key.StartsWith(KeyPrefix, StringComparison.Ordinal) && key.Length > KeyPrefix.Length && settings.Find(key) is { } found)
            {
                mappings[key[KeyPrefix.Length..].ToLowerInvariant()] = found.Value;
            }
        }
        return mappings;
    }

    /// <summary>The image pattern mapped for the job's attributes, or null for the default.</summary>
    public string? For(StartAttributes job)
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
    public static IEnumerable<string> CandidateKeys(StartAttributes job)
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
