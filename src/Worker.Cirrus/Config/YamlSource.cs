using System.Globalization;
using Worker.Core.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Worker.Cirrus.Config;

/// <summary>
/// Strict reading of one YAML file, as cirrus-cli's decoder with <c>KnownFields(true)</c>: every key
/// must be known where it stands and every value must have the expected shape. Each error names the
/// file, the line and the key's full path.
/// </summary>
internal sealed class YamlSource(string fileName)
{
    public string FileName { get; } = fileName;

    public CirrusConfigException Error(YamlNode node, string message) =>
        new($"{FileName}:{node.Start.Line}: {message}");

    public static bool IsNull(YamlNode? node) =>
        node is null || node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    /// <summary>The mapping at <paramref name="path"/> with its keys checked against <paramref name="known"/>; null when the value is null.</summary>
    public StrictMapping? Mapping(YamlNode node, string path, params string[] known)
    {
        if (IsNull(node))
        {
            return null;
        }
        if (node is not YamlMappingNode mapping)
        {
            throw Error(node, $"'{path}' must be a mapping of {string.Join(", ", known)}");
        }
        return new StrictMapping(this, mapping, path, known);
    }

    /// <summary>
    /// As <see cref="Mapping"/>, but a key not in <paramref name="known"/> is skipped with a line in
    /// <paramref name="ignored"/>, as cirrus-cli's <c>.cirrus.yml</c> parser skips it (standby goes through that parser).
    /// </summary>
    public StrictMapping? LenientMapping(YamlNode node, string path, ICollection<string> ignored, params string[] known)
    {
        if (IsNull(node))
        {
            return null;
        }
        if (node is not YamlMappingNode mapping)
        {
            throw Error(node, $"'{path}' must be a mapping of {string.Join(", ", known)}");
        }
        return new StrictMapping(this, mapping, path, known, ignored);
    }

    public IReadOnlyList<YamlNode> Sequence(YamlNode node, string path)
    {
        if (IsNull(node))
        {
            return [];
        }
        return node is YamlSequenceNode sequence
            ? sequence.Children.ToList()
            : throw Error(node, $"'{path}' must be a list");
    }

    public string String(YamlNode node, string path)
    {
        if (IsNull(node))
        {
            return "";
        }
        return node is YamlScalarNode { Value: { } value }
            ? value
            : throw Error(node, $"'{path}' must be a string");
    }

    public double Double(YamlNode node, string path)
    {
        var text = String(node, path);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? value
            : throw Error(node, $"'{path}' must be a number, got '{text}'");
    }

    public long Integer(YamlNode node, string path, long min, long max)
    {
        var text = String(node, path);
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw Error(node, $"'{path}' must be an integer from {min} to {max}, got '{text}'");
    }

    public bool Bool(YamlNode node, string path)
    {
        var text = String(node, path);
        return text.ToLowerInvariant() switch
        {
            "" or "false" or "no" or "off" => false,
            "true" or "yes" or "on" => true,
            _ => throw Error(node, $"'{path}' must be true or false, got '{text}'"),
        };
    }

    /// <summary>A Go duration such as <c>10m</c> or <c>1h30m</c>.</summary>
    public TimeSpan Duration(YamlNode node, string path)
    {
        var text = String(node, path);
        if (text.Length == 0)
        {
            return TimeSpan.Zero;
        }
        return Durations.TryParse(text, out var duration)
            ? duration
            : throw Error(node, $"'{path}' must be a duration such as 90s, 10m or 1h30m, got '{text}'");
    }

    public IReadOnlyList<string> Strings(YamlNode node, string path) =>
        Sequence(node, path).Select((item, i) => String(item, $"{path}[{i}]")).ToList();

    public Dictionary<string, string> StringMap(YamlNode node, string path) =>
        Pairs(node, path).ToDictionary(p => p.Key, p => String(p.Value, $"{path}.{p.Key}"), StringComparer.Ordinal);

    public Dictionary<string, double> DoubleMap(YamlNode node, string path) =>
        Pairs(node, path).ToDictionary(p => p.Key, p => Double(p.Value, $"{path}.{p.Key}"), StringComparer.Ordinal);

    private IEnumerable<KeyValuePair<string, YamlNode>> Pairs(YamlNode node, string path)
    {
        if (IsNull(node))
        {
            yield break;
        }
        if (node is not YamlMappingNode mapping)
        {
            throw Error(node, $"'{path}' must be a mapping");
        }
        foreach (var (key, value) in mapping.Children)
        {
            yield return new(String(key, path), value);
        }
    }
}

/// <summary>A mapping whose keys were all found in the known set (or, given somewhere to say so, whose other keys were skipped).</summary>
internal sealed class StrictMapping
{
    private readonly Dictionary<string, YamlNode> _values = new(StringComparer.Ordinal);

    public StrictMapping(YamlSource source, YamlMappingNode node, string path, IReadOnlyCollection<string> known, ICollection<string>? ignored = null)
    {
        Node = node;
        foreach (var (keyNode, value) in node.Children)
        {
            var key = keyNode is YamlScalarNode { Value: { } k } ? k : throw source.Error(keyNode, $"keys under '{path}' must be strings");
            var full = path.Length == 0 ? key : $"{path}.{key}";
            var knownKeys = $"known keys{(path.Length == 0 ? "" : $" under '{path}'")}: {string.Join(", ", known)}";
            if (!known.Contains(key))
            {
                if (ignored is null)
                {
                    throw source.Error(keyNode, $"unknown key '{full}' ({knownKeys})");
                }
                ignored.Add($"{source.FileName}:{keyNode.Start.Line}: '{full}' is ignored, as cirrus-cli ignores it ({knownKeys})");
                continue;
            }
            _values[key] = value;
        }
    }

    public YamlMappingNode Node { get; }

    /// <summary>The known keys present, in the file's order.</summary>
    public IEnumerable<string> Keys => _values.Keys;

    public bool Has(string key) => _values.ContainsKey(key);

    public YamlNode? this[string key] => _values.GetValueOrDefault(key);
}
