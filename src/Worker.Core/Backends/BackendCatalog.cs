using Worker.Core.Jobs;

namespace Worker.Core.Backends;

/// <summary>
/// The backends a worker runs jobs on besides its own (<c>WORKER_PROVIDER_NAME</c>), for jobs that
/// name theirs (a Cirrus task's isolation picks one). Each is made on first use, once, and disposed
/// with the catalog; a name it does not hold refuses the job before any machine exists.
/// </summary>
/// <param name="makers">The backends allowed here, by name, and how each is made.</param>
/// <param name="allowedBy">What decides which backends are allowed, for the refusal (e.g. "WORKER_CIRRUS_BACKENDS").</param>
public sealed class BackendCatalog(IReadOnlyDictionary<string, Func<IBackend>> makers, string allowedBy) : IAsyncDisposable
{
    private readonly Dictionary<string, IBackend> _made = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _disposed;

    public IReadOnlyCollection<string> Names => makers.Keys.ToList();

    /// <exception cref="JobRefusedException">This worker runs no jobs on <paramref name="name"/>.</exception>
    public IBackend For(string name)
    {
        if (!makers.TryGetValue(name, out var make))
        {
            throw new JobRefusedException(
                $"this worker runs no jobs on backend '{name}' ({allowedBy} allows {(makers.Count == 0 ? "none" : string.Join(", ", makers.Keys))})");
        }
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_made.TryGetValue(name, out var backend))
            {
                // A backend that can't be made (a bad setting) is tried again by the next job that names it.
                backend = make();
                _made[name] = backend;
            }
            return backend;
        }
    }

    /// <summary>The backends made so far.</summary>
    public IReadOnlyList<IBackend> Made
    {
        get
        {
            lock (_lock)
            {
                return [.. _made.Values];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<IBackend> made;
        lock (_lock)
        {
            _disposed = true;
            made = [.. _made.Values];
            _made.Clear();
        }
        foreach (var backend in made)
        {
            await backend.DisposeAsync();
        }
    }
}
