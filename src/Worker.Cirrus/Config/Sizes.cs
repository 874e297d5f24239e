using System.Globalization;
using System.Text.RegularExpressions;

namespace Worker.Cirrus.Config;

/// <summary>The two size notations cirrus-cli's worker file uses.</summary>
internal static partial class Sizes
{
    [GeneratedRegex(@"^\s*(?<n>[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?<u>[a-zA-Z]*)\s*$")]
    private static partial Regex HumanBytes();

    /// <summary>go-humanize's ParseBytes (<c>log.rotate-size</c>): <c>100 MB</c>, <c>1GiB</c>, <c>512k</c>, a bare number of bytes.
    /// SI units are powers of 1000, IEC (<c>KiB</c>, <c>Mi</c>...) powers of 1024.</summary>
    public static bool TryParseHumanBytes(string text, out long bytes)
    {
        bytes = 0;
        var match = HumanBytes().Match(text);
        if (!match.Success ||
            !double.TryParse(match.Groups["n"].Value.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }
        double? unit = match.Groups["u"].Value.ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" => 1e3,
            "ki" or "kib" => 1L << 10,
            "m" or "mb" => 1e6,
            "mi" or "mib" => 1L << 20,
            "g" or "gb" => 1e9,
            "gi" or "gib" => 1L << 30,
            "t" or "tb" => 1e12,
            "ti" or "tib" => 1L << 40,
            _ => null,
        };
        if (unit is null || number * unit.Value > long.MaxValue)
        {
            return false;
        }
        bytes = (long)(number * unit.Value);
        return true;
    }

    /// <summary>cirrus-cli's ParseMegaBytes for VM memory: <c>16384</c>, <c>8G</c>, <c>512mb</c>; a bare number below 100 means GiB.</summary>
    public static bool TryParseMegabytes(string text, out uint megabytes)
    {
        megabytes = 0;
        var lower = text.Trim().ToLowerInvariant();
        var digits = lower.TakeWhile(char.IsAsciiDigit).Count();
        if (digits == 0 || !uint.TryParse(lower[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }
        ulong result = lower[digits..] switch
        {
            "" => value < 100 ? value * 1024UL : value,
            "m" or "mb" or "mi" => value,
            "g" or "gb" or "gi" => value * 1024UL,
            _ => ulong.MaxValue,
        };
        if (result > uint.MaxValue)
        {
            return false;
        }
        megabytes = (uint)result;
        return true;
    }
}
