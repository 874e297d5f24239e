using System.Collections.Concurrent;
using Worker.Core.Backends;

namespace Worker.Cirrus.Tests.Fakes;

/// <summary>A Tart backend's pulls as tart-pre-pull sees them: each pull recorded, and those of the images told to fail failing.</summary>
public sealed class RecordingImagePuller : IImagePuller
{
    public ConcurrentQueue<string> Pulls { get; } = new();

    public HashSet<string> Failing { get; } = [];

    public IReadOnlyCollection<string>? LeftToCaller { get; private set; }

    public Task PullAsync(string image, CancellationToken ct)
    {
        Pulls.Enqueue(image);
        return Failing.Contains(image) ? Task.FromException(new InvalidOperationException($"failed to pull {image}: registry down (fake)")) : Task.CompletedTask;
    }

    public void LeavePullsToCaller(IReadOnlyCollection<string> images) => LeftToCaller = images;
}
