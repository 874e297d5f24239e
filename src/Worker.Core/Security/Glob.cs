namespace Worker.Core.Security;

/// <summary>
/// A pattern matched against the whole text, as the Cirrus persistent worker matches images and
/// volume sources and OpenSSH matches known_hosts names: <c>*</c> matches any run of characters, <c>/</c> included, and <c>?</c> exactly
/// one; every other character matches itself. So <c>ghcr.io/acme/*</c> refuses
/// <c>example.org/ghcr.io/acme/x</c>.
/// </summary>
public sealed class Glob(string pattern)
{
    public string Pattern { get; } = pattern;

    public bool IsMatch(string text)
    {
        // Greedy match that remembers the last '*' and retries from it: linear in practice, no regex.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < Pattern.Length && (Pattern[p] == '?' || Pattern[p] == text[t]) && Pattern[p] != '*')
            {
                p++;
                t++;
            }
            else if (p < Pattern.Length && Pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < Pattern.Length && Pattern[p] == '*')
        {
            p++;
        }
        return p == Pattern.Length;
    }

    public override string ToString() => Pattern;
}
