namespace Worker.Cirrus.Security;

/// <summary>
/// go-wildcard's MatchSimple, which cirrus-cli matches images and volume sources with: <c>*</c>
/// matches any run of characters (<c>/</c> included), every other character itself, over the whole
/// text. <c>?</c> is not special. So <c>ghcr.io/cirruslabs/*</c> refuses <c>example.org/ghcr.io/cirruslabs/x</c>.
/// </summary>
public static class Wildcard
{
    public static bool Matches(string pattern, string text)
    {
        var parts = pattern.Split('*');
        if (parts.Length == 1)
        {
            return pattern == text;
        }
        if (!text.StartsWith(parts[0], StringComparison.Ordinal))
        {
            return false;
        }
        var at = parts[0].Length;
        for (var i = 1; i < parts.Length - 1; i++)
        {
            var found = text.IndexOf(parts[i], at, StringComparison.Ordinal);
            if (found < 0)
            {
                return false;
            }
            at = found + parts[i].Length;
        }
        var last = parts[^1];
        return text.Length - at >= last.Length && text.EndsWith(last, StringComparison.Ordinal);
    }
}
