namespace Worker.Vm;

/// <summary>
/// The job's VM went away while the job used it (its run process ended, or the connection to it
/// broke for good). The message says why, in one line for the job's log; the job is requeued (counted).
/// </summary>
public sealed class VmStoppedException(string message, Exception? inner = null) : Exception(message, inner);
