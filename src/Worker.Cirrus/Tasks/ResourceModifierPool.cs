using Worker.Cirrus.Config;

namespace Worker.Cirrus.Tasks;

/// <summary>
/// <c>resource-modifiers</c>: each one is held by at most one task at a time. A task takes the first
/// free modifier, in file order, whose every <c>match</c> key it asks for with no more than the
/// listed amount (so <c>gpu: 0.25</c> takes a <c>gpu: 0.5</c> modifier). Unlike cirrus-cli, whose
/// lock only vetu ever released, the lease is given back when the task ends, whatever its isolation.
/// </summary>
public sealed class ResourceModifierPool(IReadOnlyList<ResourceModifierConfig> modifiers)
{
    private readonly bool[] _held = new bool[modifiers.Count];
    private readonly Lock _lock = new();

    public static bool Matches(ResourceModifierConfig modifier, IReadOnlyDictionary<string, double> requested) =>
        modifier.Match.All(m => requested.TryGetValue(m.Key, out var asked) && asked <= m.Value);

    /// <summary>The first free matching modifier, now held by the caller; null when none is free.</summary>
    public ModifierLease? Acquire(IReadOnlyDictionary<string, double> requested)
    {
        lock (_lock)
        {
            for (var i = 0; i < modifiers.Count; i++)
            {
                if (!_held[i] && Matches(modifiers[i], requested))
                {
                    _held[i] = true;
                    return new ModifierLease(this, i, modifiers[i]);
                }
            }
            return null;
        }
    }

    /// <summary>How many modifiers are held now.</summary>
    public int HeldCount
    {
        get
        {
            lock (_lock)
            {
                return _held.Count(h => h);
            }
        }
    }

    private void Release(int index)
    {
        lock (_lock)
        {
            _held[index] = false;
        }
    }

    /// <summary>A held modifier: its <c>append.run</c> arguments go to <c>vetu run</c>. Disposing gives it back, once.</summary>
    public sealed class ModifierLease : IDisposable
    {
        private readonly ResourceModifierPool _pool;
        private readonly int _index;
        private int _released;

        internal ModifierLease(ResourceModifierPool pool, int index, ResourceModifierConfig modifier)
        {
            _pool = pool;
            _index = index;
            Modifier = modifier;
        }

        public ResourceModifierConfig Modifier { get; }

        public IReadOnlyList<string> AppendRun => Modifier.AppendRun;

        /// <summary>Names what the modifier hands out (its place in the file), for the VM backend's lock on it.</summary>
        public string LeaseName => $"cirrus-resource-modifier-{_index}";

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                _pool.Release(_index);
            }
        }
    }
}
