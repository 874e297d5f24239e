namespace Worker.Core.Backends;

/// <summary>
/// Extra arguments for a VM's run command (e.g. <c>--device path=/dev/vfio/1</c> for a GPU) and the
/// name of the lock that guards what they hand out. A backend holds the lock from before the VM
/// boots until it is deleted, on every path, so two VMs never get the same device.
/// </summary>
public sealed record RunArguments(string Lease, IReadOnlyList<string> Arguments);
