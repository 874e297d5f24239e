namespace Worker.Core.Security;

/// <summary>
/// A host path as the kernel will walk it when a bind mount is made: every symbolic link in it
/// followed, so an allow-list decides on the place a mount really reaches, not on the name a job
/// (or a link it left in a shared cache) gave it.
/// </summary>
public static class HostPath
{
    /// <summary>Links followed before giving up, as Linux's path walk gives up with ELOOP.</summary>
    private const int MaxLinks = 40;

    /// <summary>
    /// The absolute <paramref name="path"/> with each link in it replaced by its target and <c>..</c>
    /// folded after that; a part that does not exist yet is kept as written (Docker creates a
    /// missing bind source). Null when the links loop or a part can't be read, so the caller refuses.
    /// </summary>
    public static string? Real(string path)
    {
        var pending = new Stack<string>(Segments(path).Reverse());
        var real = new List<string>();
        var links = 0;
        while (pending.TryPop(out var segment))
        {
            if (segment == ".")
            {
                continue;
            }
            if (segment == "..")
            {
                // Everything in real is resolved already, so its parent is the lexical one.
                if (real.Count > 0)
                {
                    real.RemoveAt(real.Count - 1);
                }
                continue;
            }
            string? target;
            try
            {
                target = new FileInfo(Join(real, segment)).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
            if (target is null)
            {
                real.Add(segment);
                continue;
            }
            if (++links > MaxLinks)
            {
                return null;
            }
            if (target.StartsWith('/'))
            {
                real.Clear();
            }
            foreach (var part in Segments(target).Reverse())
            {
                pending.Push(part);
            }
        }
        return "/" + string.Join('/', real);
    }

    private static string Join(List<string> real, string segment) => "/" + string.Join('/', real.Append(segment));

    private static string[] Segments(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
