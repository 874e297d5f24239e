using Worker.Core.Pipeline;

namespace Worker.Http;

/// <summary>
/// Whether this worker should be given work: its queue is connected, its pool runs and is not draining,
/// and its backend works (its circuit breaker takes jobs). A draining or broken host is not ready, so a
/// load balancer or rollout stops counting on it.
/// </summary>
public sealed record Readiness(bool Ready, IReadOnlyList<string> Reasons)
{
    public static Readiness Of(ProcessorPool pool)
    {
        var reasons = new List<string>();
        if (!pool.Queue.IsConnected)
        {
            reasons.Add($"queue {pool.Queue.Name} is not connected");
        }
        if (!pool.Running)
        {
            reasons.Add("the pool is not running");
        }
        if (pool.Draining)
        {
            reasons.Add("the pool is draining");
        }
        if (pool.Breaker?.Reason is { } broken)
        {
            reasons.Add(broken);
        }
        return new Readiness(reasons.Count == 0, reasons);
    }
}
