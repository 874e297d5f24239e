using System.Globalization;

namespace Worker.Docker;

/// <summary>A container's pinned CPUs, held until it is removed; giving it back twice is harmless.</summary>
public sealed class CpuSetLease(CpuSets sets, int[] cpus) : IDisposable
{
    private int _released;

    /// <summary>The CPUs as the engine takes them (<c>HostConfig.CpusetCpus</c>, <c>docker run --cpuset-cpus</c>): <c>0,1</c>.</summary>
    public string Cpus { get; } = string.Join(',', cpus.Select(c => c.ToString(CultureInfo.InvariantCulture)));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            sets.Release(cpus);
        }
    }
}
