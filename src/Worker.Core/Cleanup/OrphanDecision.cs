using Worker.Core.Backends;

namespace Worker.Core.Cleanup;

/// <summary>What the cleanup sidecar decided about one machine, and why, in words for the log.</summary>
public sealed record OrphanDecision(MachineRecord Machine, bool Delete, string Reason)
{
    public static OrphanDecision Keep(MachineRecord machine, string reason) => new(machine, false, reason);

    public static OrphanDecision Remove(MachineRecord machine, string reason) => new(machine, true, reason);
}
