using Worker.Core.Jobs;

namespace Worker.Composition;

/// <summary>
/// The setting a misspelt name was most likely meant to be (<c>POOL_SIZ</c>: <c>POOL_SIZE</c>), so a
/// start-up warning can say which: a typo in a setting's name otherwise leaves its default in force
/// with nothing but "not a setting" to go on, and under an image-mapping prefix
/// (<c>DOCKER_IMAGE_DEFUALT</c>) with no word at all.
/// </summary>
public static class NearestSettingName
{
    /// <summary>
    /// The closest of <paramref name="known"/> within a slip or two of typing (none for a far one);
    /// ties go to the first in order. Stricter than <see cref="KeyNames.Nearest"/>'s third of the
    /// name: an image mapping such as <c>DOCKER_IMAGE_RUBY</c> is a few edits from settings too.
    /// </summary>
    public static string? Of(string key, IEnumerable<string> known)
    {
        // One edit in a short name is already a different word; longer ones may hold two slips.
        var allowed = key.Length <= 8 ? 1 : 2;
        string? nearest = null;
        foreach (var candidate in known.Order(StringComparer.Ordinal))
        {
            if (Math.Abs(candidate.Length - key.Length) > allowed)
            {
                continue;
            }
            var distance = KeyNames.Distance(key, candidate);
            if (distance > 0 && distance <= allowed)
            {
                nearest = candidate;
                allowed = distance - 1; // a later candidate must be strictly nearer
                if (allowed < 1)
                {
                    break;
                }
            }
        }
        return nearest;
    }
}
