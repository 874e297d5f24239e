using System.Collections;

namespace Worker.Core.Configuration;

/// <summary>
/// Where settings come from: environment variables named <c>WORKER_KEY</c>, each also read
/// as <c>TRAVIS_WORKER_KEY</c> so a travis-worker deployment moves over without edits.
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
        return new SettingsSource(copy);
    }

    /// <summary>The variable that sets <paramref name="key"/> and its value, or null when unset or empty.</summary>
    public (string Variable, string Value)? Find(string key)
    {
        foreach (var name in new[] { Prefix + key, TravisPrefix + key })
        {
            if (_variables.TryGetValue(name, out var value) && value.Length > 0)
            {
                return (name, value);
            }
        }
        return null;
    }

    /// <summary>Any other environment variable (e.g. DOCKER_HOST), without the WORKER_ prefix rules.</summary>
    public string? Raw(string name) =>
        _variables.TryGetValue(name, out var value) && value.Length > 0 ? value : null;

    /// <summary>Every variable whose name starts with WORKER_ or TRAVIS_WORKER_, as the key after the prefix.</summary>
    public IEnumerable<(string Variable, string Key)> WorkerVariables()
    {
        foreach (var name in _variables.Keys)
        {
            if (name.StartsWith(TravisPrefix, StringComparison.Ordinal))
            {
                yield return (name, name[TravisPrefix.Length..]);
            }
            else if (name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                yield return (name, name[Prefix.Length..]);
            }
        }
    }
}
