using System.Collections;

namespace Worker.Core.Configuration;

/// <summary>
/// Where settings come from: environment variables named <c>WORKER_KEY</c>, each also read as
/// <c>TRAVIS_WORKER_KEY</c>, and a key travis-worker has also by its bare name (see
/// <see cref="TravisNames"/>), so a travis-worker deployment's env file works without edits. The
/// first of the three that is set counts, except that a backend's bare name (<c>GCE_ZONE</c>) comes
/// before its <c>TRAVIS_WORKER_</c> one, as travis-worker took them.
/// </summary>
public sealed class SettingsSource
{
    public const string Prefix = "WORKER_";
    public const string TravisPrefix = "TRAVIS_WORKER_";

    private readonly IReadOnlyDictionary<string, string> _variables;

    public SettingsSource(IReadOnlyDictionary<string, string> variables) => _variables = variables;

    public static SettingsSource FromEnvironment()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            variables[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return new SettingsSource(variables);
    }

    public static SettingsSource From(params (string Name, string Value)[] variables) =>
        new(variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal));

    /// <summary>A copy with <c>WORKER_KEY</c> set to <paramref name="value"/>.</summary>
    public SettingsSource With(string key, string value)
    {
        var copy = new Dictionary<string, string>(_variables, StringComparer.Ordinal)
        {
            [Prefix + key] = value,
        };
        copy.Remove(TravisPrefix + key);
        copy.Remove(key);
        return new SettingsSource(copy);
    }

    /// <summary>The variable that sets <paramref name="key"/> and its value, or null when unset or empty.</summary>
    public (string Variable, string Value)? Find(string key)
    {
        if (Set(Prefix + key) is { } own)
        {
            return (Prefix + key, own);
        }
        // A backend's setting by its bare name overrides the TRAVIS_WORKER_ one, as in travis-worker,
        // which read those names second (config/provider_config.go); its own settings it read first.
        if (TravisNames.IsProviderKey(key) && TravisNames.ReadsBare(key) && Set(key) is { } providers)
        {
            return (key, TravisNames.ValueAsTravisRead(key, providers));
        }
        if (Set(TravisPrefix + key) is { } travis)
        {
            return (TravisPrefix + key, TravisNames.ValueAsTravisRead(key, travis));
        }
        if (TravisNames.ReadsBare(key) && Set(key) is { } bare)
        {
            return (key, TravisNames.ValueAsTravisRead(key, bare));
        }
        return null;
    }

    /// <summary>
    /// Whether the settings are in travis-worker's form: a <c>TRAVIS_WORKER_</c> variable, or one of
    /// travis-worker's own settings by its bare name. Its defaults then apply where they differ.
    /// </summary>
    public bool InTravisForm => _variables.Any(v => v.Value.Length > 0 &&
        (v.Key.StartsWith(TravisPrefix, StringComparison.Ordinal) || TravisNames.MarksTravisForm(v.Key)));

    private string? Set(string name) => _variables.TryGetValue(name, out var value) && value.Length > 0 ? value : null;

    /// <summary>Any other environment variable (e.g. DOCKER_HOST), without the WORKER_ prefix rules.</summary>
    public string? Raw(string name) =>
        _variables.TryGetValue(name, out var value) && value.Length > 0 ? value : null;

    /// <summary>
    /// Every variable whose name starts with WORKER_ or TRAVIS_WORKER_, as the key after the prefix,
    /// and every set variable named as travis-worker names its settings bare (<c>Bare</c>: such a
    /// name may be another program's, so only a travis-worker key is worth a word).
    /// </summary>
    public IEnumerable<(string Variable, string Key, bool Bare)> WorkerVariables()
    {
        foreach (var (name, value) in _variables)
        {
            if (name.StartsWith(TravisPrefix, StringComparison.Ordinal))
            {
                yield return (name, name[TravisPrefix.Length..], false);
            }
            else if (name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                yield return (name, name[Prefix.Length..], false);
            }
            else if (value.Length > 0 && TravisNames.ReadsBare(name))
            {
                yield return (name, name, true);
            }
        }
    }
}
