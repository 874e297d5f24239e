using System.Globalization;

namespace Worker.Core.Configuration;

/// <summary>
/// Sizes as travis-worker read them (go-humanize's ParseBytes): <c>4G</c> and <c>4GB</c> are
/// 4,000,000,000 bytes, <c>4Gi</c> and <c>4GiB</c> 4 GiB, a bare number bytes; case and a space
/// before the unit don't matter, and commas in the number are dropped. The worker's own settings
/// take <c>4g</c> as 4 GiB, as Docker does, so a travis-worker deployment's <c>DOCKER_MEMORY=4G</c>
/// would otherwise give each container 7% more memory than its hosts were sized for.
/// </summary>
public static class TravisByteSizes
{
    private static readonly Dictionary<string, double> Units = new(StringComparer.Ordinal)
    {
        [""] = 1, ["b"] = 1,
        ["k"] = 1e3, ["kb"] = 1e3, ["ki"] = 1L << 10, ["kib"] = 1L << 10,
        ["m"] = 1e6, ["mb"] = 1e6, ["mi"] = 1L << 20, ["mib"] = 1L << 20,
        ["g"] = 1e9, ["gb"] = 1e9, ["gi"] = 1L << 30, ["gib"] = 1L << 30,
        ["t"] = 1e12, ["tb"] = 1e12, ["ti"] = 1L << 40, ["tib"] = 1L << 40,
        ["p"] = 1e15, ["pb"] = 1e15, ["pi"] = 1L << 50, ["pib"] = 1L << 50,
    };

    /// <summary>The number of bytes <paramref name="text"/> names, or null when travis-worker could not read it either.</summary>
    public static long? Parse(string text)
    {
        var digits = 0;
        while (digits < text.Length && (char.IsAsciiDigit(text[digits]) || text[digits] is '.' or ','))
        {
            digits++;
        }
        var number = text[..digits].Replace(",", "", StringComparison.Ordinal);
        var unit = text[digits..].Trim().ToLowerInvariant();
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || !Units.TryGetValue(unit, out var factor)
            || !(value * factor < long.MaxValue))
        {
            return null;
        }
        return (long)(value * factor);
    }
}
