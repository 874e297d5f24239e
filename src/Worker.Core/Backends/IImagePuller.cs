namespace Worker.Core.Backends;

/// <summary>
/// A backend whose machines are cloned from images it fetches from a registry (Tart), so a caller
/// can fetch them ahead of the jobs on a schedule of its own (the Cirrus bridge's <c>tart-pre-pull</c>).
/// </summary>
public interface IImagePuller
{
    /// <summary>
    /// Fetches <paramref name="image"/> now, also when a copy is here (a tag may have moved); a pull
    /// of it already under way is joined. Throws when the pull fails.
    /// </summary>
    Task PullAsync(string image, CancellationToken ct);

    /// <summary>
    /// The images the caller keeps pulled: a machine of one makes no pull of its own before its
    /// clone (it waits for a pull of it under way; a missing one is left to the clone).
    /// </summary>
    void LeavePullsToCaller(IReadOnlyCollection<string> images);
}
