namespace Worker.Core.Jobs;

/// <summary>Finds the known name a mistyped one was meant to be.</summary>
public static class KeyNames
{
    /// <summary>
    /// The name in <paramref name="known"/> fewest edits away from <paramref name="typed"/>, or null when
    /// even that one is too far to be a typo of it (more edits than a third of the name, or than 1).
    /// </summary>
    public static string? Nearest(string typed, IEnumerable<string> known)
    {
        var best = known.Select(name => (Name: name, Distance: Distance(typed, name)))
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(1, typed.Length / 3) ? best.Name : null;
    }

    /// <summary>
    /// Edit distance where inserting, deleting or replacing a character, or swapping two neighbours
    /// (the commonest typo: <c>imgae</c>), each cost 1 (optimal string alignment).
    /// </summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }
}
