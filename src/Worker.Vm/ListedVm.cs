using Worker.Core.Backends;

namespace Worker.Vm;

/// <summary>One line of <c>list</c>: a local VM or a cached OCI image, and whether it runs.</summary>
/// <param name="Local">A local VM (clone, run, delete work on it), not a cached OCI image.</param>
public sealed record ListedVm(string Name, bool Local, MachineState State);
