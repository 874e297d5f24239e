namespace Worker.Core.Images;

/// <summary>
/// Chooses the image of a job that names none, as travis-worker's image selectors did. The answer
/// is an image name (or, where the backend takes one, a pattern) for the backend to resolve; null
/// is the backend's own default (travis-worker's <c>default</c>).
/// </summary>
public interface IImageSelector
{
    Task<string?> SelectAsync(ImageQuery query, CancellationToken ct);
}
