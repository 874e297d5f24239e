using Worker.Core.Backends;

namespace Worker.Vm;

/// <summary>
/// Named locks for what extra run arguments hand out (<see cref="RunArguments"/>, e.g. a GPU passed
/// through with <c>--device</c>): a VM that gets them holds the lock from before its clone until it is
/// deleted, on every path, so no two VMs of this backend get the same device. A VM that needs a lease
/// held by another waits for it. (cirrus-cli releases a resource modifier's lock only when a Vetu VM
/// closes; every other path keeps it for the life of the process.)
/// </summary>
public sealed class RunArgumentLeases
{
    private readonly Dictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    /// <summary>Waits until <paramref name="name"/> is free and takes it; dispose the result to give it back.</summary>
    public async Task<IDisposable> AcquireAsync(string name, IProgress<string>? progress, CancellationToken ct)
    {
        var gate = Gate(name);
        if (!await gate.WaitAsync(0, CancellationToken.None))
        {
            progress?.Report($"Waiting for run-arguments lease '{name}', which another VM holds.");
            await gate.WaitAsync(ct);
        }
        return new Lease(gate);
    }

    /// <summary>Whether a VM holds <paramref name="name"/> now.</summary>
    public bool IsHeld(string name) => Gate(name).CurrentCount == 0;

    private SemaphoreSlim Gate(string name)
    {
        lock (_locks)
        {
            if (!_locks.TryGetValue(name, out var gate))
            {
                _locks[name] = gate = new SemaphoreSlim(1, 1);
            }
            return gate;
        }
    }

    private sealed class Lease(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
