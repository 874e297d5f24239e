namespace Worker.Core.Security;

/// <summary>
/// <c>WORKER_ALLOWED_IMAGES</c> as a backend applies it before anything is created: a job's image
/// must match one glob over its whole reference. The backend's own default image is always allowed,
/// and an empty list allows any image.
/// </summary>
public sealed class ImageAllowList(IReadOnlyList<string> globs)
{
    private readonly IReadOnlyList<Glob> _globs = globs.Select(g => new Glob(g)).ToList();

    /// <summary>Why <paramref name="image"/> is refused, naming the setting, or null when it is allowed.</summary>
    public string? Refusal(string image, string defaultImage) =>
        image == defaultImage || _globs.Count == 0 || _globs.Any(g => g.IsMatch(image))
            ? null
            : $"image '{image}' is not allowed by WORKER_ALLOWED_IMAGES ({string.Join(", ", _globs)})";
}
