namespace Worker.Docker;

/// <summary>A container the launcher made, and the CPUs it is pinned to (null: not pinned), held until it is removed.</summary>
public sealed record CreatedContainer(string Id, CpuSetLease? Pinned);
