namespace Worker.Vm;

/// <summary>
/// A host directory shared with a VM (Tart <c>--dir NAME:SOURCE[:ro]</c>). In a macOS guest it
/// appears under <c>/Volumes/My Shared Files/NAME</c>, and <see cref="Target"/> is made a link to it.
/// </summary>
public sealed record VmVolume(string Name, string Source, string Target, bool ReadOnly)
{
    /// <summary>The <c>--dir</c> value.</summary>
    public string DirArgument => ReadOnly ? $"{Name}:{Source}:ro" : $"{Name}:{Source}";

    /// <summary>Where a macOS guest mounts it.</summary>
    public string GuestPath => $"/Volumes/My Shared Files/{Name}";
}
