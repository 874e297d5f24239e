using System.Globalization;

namespace Worker.Docker;

/// <summary>
/// Pins each container to CPUs of its own among the engine's first <see cref="Size"/>, as many as
/// it gets (rounded up), so a build that sizes itself by <c>nproc</c> (<c>make -j$(nproc)</c>) counts
/// its own CPUs rather than the host's. Each container takes the least-used CPUs, so containers
/// spread over the host; when more CPUs are asked for than are free (a pool larger than the host),
/// the least-shared are shared and nothing is refused (travis-worker refused the job). A lease is
/// given back when its container is removed.
/// <para>
/// Each worker counts only its own containers. Among equally used CPUs it prefers the next from a
/// CPU of its own (<paramref name="first"/>, random by default), so workers sharing an engine don't
/// all put their first containers on CPU 0.
/// </para>
/// </summary>
/// <param name="size">The CPUs to pin within: 0 to size-1.</param>
/// <param name="first">The CPU this worker prefers first among equally used ones; the order goes on from it, round the set.</param>
public sealed class CpuSets(int size, int? first = null)
{
    private readonly int[] _users = new int[Math.Max(size, 0)];
    private readonly int _first = size > 0 ? (first ?? Random.Shared.Next(size)) % size : 0;

    /// <summary>How many CPUs containers are pinned within (CPUs 0 to Size-1); 0: none is pinned.</summary>
    public int Size => _users.Length;

    /// <summary>The CPUs a container of <paramref name="cpus"/> CPUs is pinned to, or null when it is not pinned (no limit, or no CPU set).</summary>
    public CpuSetLease? Take(double cpus)
    {
        if (Size == 0 || cpus <= 0 || !double.IsFinite(cpus))
        {
            return null;
        }
        var count = (int)Math.Min(Math.Ceiling(cpus), Size);
        lock (_users)
        {
            var chosen = Enumerable.Range(0, Size).OrderBy(cpu => _users[cpu]).ThenBy(cpu => (cpu - _first + Size) % Size).Take(count).Order().ToArray();
            foreach (var cpu in chosen)
            {
                _users[cpu]++;
            }
            return new CpuSetLease(this, chosen);
        }
    }

    /// <summary>
    /// Counts a container pinned before this worker knew of it (a standby taken over from a worker
    /// that is gone), to the CPUs the engine lists for it (<c>0,1</c> or <c>0-3</c>); those outside
    /// the set are not counted. Null when none is in the set or the list can't be read.
    /// </summary>
    public CpuSetLease? Hold(string cpusetCpus)
    {
        if (Size == 0 || Parse(cpusetCpus) is not { } listed)
        {
            return null;
        }
        var held = listed.Where(cpu => cpu < Size).Distinct().Order().ToArray();
        if (held.Length == 0)
        {
            return null;
        }
        lock (_users)
        {
            foreach (var cpu in held)
            {
                _users[cpu]++;
            }
        }
        return new CpuSetLease(this, held);
    }

    /// <summary>The engine's CPU list (<c>0,2-3</c>), or null when it is not one.</summary>
    private static List<int>? Parse(string cpusetCpus)
    {
        var cpus = new List<int>();
        foreach (var part in cpusetCpus.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var bounds = part.Split('-');
            if (bounds.Length > 2 || !bounds.All(b => int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                return null;
            }
            var (from, to) = (int.Parse(bounds[0], CultureInfo.InvariantCulture), int.Parse(bounds[^1], CultureInfo.InvariantCulture));
            if (to < from || to - from > 4096)
            {
                return null;
            }
            cpus.AddRange(Enumerable.Range(from, to - from + 1));
        }
        return cpus;
    }

    /// <summary>How many pinned containers use each CPU now.</summary>
    public IReadOnlyList<int> Users()
    {
        lock (_users)
        {
            return [.. _users];
        }
    }

    internal void Release(int[] cpus)
    {
        lock (_users)
        {
            foreach (var cpu in cpus)
            {
                _users[cpu]--;
            }
        }
    }
}
