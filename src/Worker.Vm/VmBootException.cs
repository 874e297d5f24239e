namespace Worker.Vm;

/// <summary>
/// A VM did not come up: its run process ended, or it got no IP address or let no one in over SSH
/// within the boot timeout. Not the job's fault and maybe not this host's for good: the job is
/// requeued (counted), and the VM is deleted before this is thrown.
/// </summary>
public sealed class VmBootException(string message, Exception? inner = null) : Exception(message, inner);
