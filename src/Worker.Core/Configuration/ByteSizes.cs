using System.Globalization;

namespace Worker.Core.Configuration;

/// <summary>Sizes such as <c>512m</c>, <c>2g</c>, <c>64k</c> or plain bytes.</summary>
public static class ByteSizes
{
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim().ToLowerInvariant();
        if (text.EndsWith('b'))
        {
            text = text[..^1];
        }
        if (text.EndsWith('i'))
        {
            text = text[..^1];
        }
        long factor = 1;
        if (text.Length > 0 && char.IsLetter(text[^1]))
        {
            factor = text[^1] switch
            {
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                _ => 0,
            };
            text = text[..^1];
        }
        if (factor == 0 || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0 || !(n * factor < long.MaxValue))
        {
            return false;
        }
        bytes = (long)(n * factor);
        return true;
    }
}
