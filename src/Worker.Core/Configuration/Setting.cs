using System.Globalization;

namespace Worker.Core.Configuration;

/// <summary>One configuration key: its name, default, description and how its text is checked.</summary>
public interface ISetting
{
    /// <summary>The key after the prefix, e.g. <c>POOL_SIZE</c>.</summary>
    string Key { get; }

    /// <summary>The default as it would be written in an env file; empty when there is none.</summary>
    string DefaultText { get; }

    string Description { get; }

    /// <summary>What values are allowed, in words.</summary>
    string Allowed { get; }

    /// <summary>Secrets are redacted in <c>worker config</c> and in every error naming the setting.</summary>
    bool Secret { get; }

    /// <summary>Reads and checks the value; throws <see cref="InvalidSettingException"/>.</summary>
    string Effective(SettingsSource source);
}

/// <summary>A typed key. <see cref="Read"/> gives the value or stops with one line naming the variable.</summary>
public sealed class Setting<T> : ISetting
{
    private readonly Func<string, (bool Ok, T Value)> _parse;
    private readonly Func<T, string> _format;
    private Func<SettingsSource, T>? _defaultFor;

    public Setting(string key, T defaultValue, string description, string allowed,
        Func<string, (bool Ok, T Value)> parse, Func<T, string> format, bool secret = false)
    {
        Key = key;
        Default = defaultValue;
        Description = description;
        Allowed = allowed;
        _parse = parse;
        _format = format;
        Secret = secret;
    }

    public string Key { get; }
    public T Default { get; }
    public string Description { get; }
    public string Allowed { get; }
    public bool Secret { get; }
    public string DefaultText => Default is null ? "" : _format(Default);

    /// <summary>
    /// Makes the default depend on the other settings (travis-worker's defaults for its env files);
    /// <see cref="Default"/> stays the usual one. Call it where the setting is declared.
    /// </summary>
    public Setting<T> DefaultingTo(Func<SettingsSource, T> defaultFor)
    {
        _defaultFor = defaultFor;
        return this;
    }

    public T Read(SettingsSource source)
    {
        var found = source.Find(Key);
        if (found is null)
        {
            return _defaultFor is null ? Default : _defaultFor(source);
        }
        var (variable, text) = found.Value;
        var (ok, value) = _parse(text.Trim());
        if (!ok)
        {
            throw new InvalidSettingException(variable, text, Allowed, Secret);
        }
        return value;
    }

    public string Effective(SettingsSource source)
    {
        var value = Read(source);
        return value is null ? "" : _format(value);
    }
}

/// <summary>Factories for the kinds of settings the worker has.</summary>
public static class Setting
{
    public static Setting<int> Int(string key, int defaultValue, string description, int min = int.MinValue, int max = int.MaxValue) =>
        new(key, defaultValue, description,
            max == int.MaxValue ? $"an integer >= {min}" : $"an integer from {min} to {max}",
            text => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max ? (true, v) : (false, 0),
            v => v.ToString(CultureInfo.InvariantCulture));

    public static Setting<double> Number(string key, double defaultValue, string description, double min = 0) =>
        new(key, defaultValue, description, $"a number >= {min.ToString(CultureInfo.InvariantCulture)}",
            text => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && double.IsFinite(v) ? (true, v) : (false, 0),
            v => v.ToString(CultureInfo.InvariantCulture));

    public static Setting<bool> Bool(string key, bool defaultValue, string description) =>
        new(key, defaultValue, description, "true or false",
            text => TryParseBool(text, out var value) ? (true, value) : (false, false),
            v => v ? "true" : "false");

    /// <summary>A boolean as settings write it; Go's strconv.ParseBool (travis-worker's) also takes t and f.</summary>
    public static bool TryParseBool(string text, out bool value)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on" or "t":
                value = true;
                return true;
            case "false" or "0" or "no" or "off" or "f":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    public static Setting<TimeSpan> Duration(string key, TimeSpan defaultValue, string description, bool allowZero = false) =>
        new(key, defaultValue, description,
            allowZero ? "a duration such as 90s, 5m or 1h30m (0 turns it off)" : "a positive duration such as 90s, 5m or 1h30m",
            text => Durations.TryParse(text, out var d) && (allowZero || d > TimeSpan.Zero) ? (true, d) : (false, TimeSpan.Zero),
            Durations.Format);

    public static Setting<string> Text(string key, string defaultValue, string description, string allowed = "any text") =>
        new(key, defaultValue, description, allowed, text => (true, text), v => v);

    public static Setting<string?> OptionalText(string key, string description, string allowed = "any text", bool secret = false) =>
        new(key, null, description, allowed, text => (true, text), v => v ?? "", secret);

    public static Setting<string> OneOf(string key, string defaultValue, string description, params string[] allowed) =>
        new(key, defaultValue, description, "one of " + string.Join(", ", allowed),
            text => allowed.Contains(text.ToLowerInvariant()) ? (true, text.ToLowerInvariant()) : (false, ""),
            v => v);

    public static Setting<Uri?> OptionalUri(string key, string description, bool secret = false, params string[] schemes) =>
        new(key, null, description,
            schemes.Length == 0 ? "an absolute URI" : "an absolute URI with scheme " + string.Join(" or ", schemes),
            text => Uri.TryCreate(text, UriKind.Absolute, out var u) && (schemes.Length == 0 || schemes.Contains(u.Scheme)) ? (true, u) : (false, null),
            v => v?.OriginalString ?? "", secret);

    /// <summary>A comma-separated list; empty items are dropped.</summary>
    public static Setting<IReadOnlyList<string>> List(string key, string description, string allowed = "a comma-separated list") =>
        new(key, Array.Empty<string>(), description, allowed,
            text => (true, text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)),
            v => string.Join(",", v));

    /// <summary>A size in bytes: a number with an optional k, m or g suffix (powers of 1024).</summary>
    public static Setting<long> Bytes(string key, long defaultValue, string description, long min = 0) =>
        new(key, defaultValue, description, $"a size such as 4500000, 512m or 2g (at least {min} bytes)",
            text => ByteSizes.TryParse(text, out var v) && v >= min ? (true, v) : (false, 0),
            v => v.ToString(CultureInfo.InvariantCulture));
}
