namespace Worker.Core.Images;

/// <summary>An OCI image reference (<c>registry:port/path/name:tag</c>, <c>name@sha256:…</c>) taken apart.</summary>
public static class ImageReference
{
    /// <summary>
    /// Its repository and tag: a digest reference stays whole with no tag, a missing tag is
    /// <c>latest</c>, and a colon before the last <c>/</c> is a registry's port, not a tag.
    /// </summary>
    public static (string Repository, string Tag) Split(string image)
    {
        if (image.Contains('@'))
        {
            return (image, "");
        }
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }
}
