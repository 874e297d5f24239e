namespace Worker.Docker;

/// <summary>A container the launcher made, and the CPUs it is pinned to (null: not pinned), held until it is removed.</summary>
public sealed record CreatedContainer(string Id, CpuSetLease? Pinned)
{
    /// <summary>What gives its CPUs back once it is removed (an instance's <c>stopped</c>), or null when it has none.</summary>
    public Action? GiveBackCpus => Pinned is { } pinned ? pinned.Dispose : null;
}
