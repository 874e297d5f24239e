using Worker.Core.Backends;
using Worker.Core.Cleanup;

namespace Worker.Core.Registration;

/// <summary>What the cleanup sidecar works on for one backend: its machines, and (when the backend can tell) which worker hosts still exist.</summary>
public sealed record CleanupInventory(IInstanceInventory Machines, IWorkerHostDirectory? Hosts) : IDisposable
{
    public void Dispose() => Machines.Dispose();
}
