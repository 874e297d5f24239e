using Worker.Cirrus.Agent;
using Worker.Cirrus.Jobs;
using Worker.Core.Jobs;

namespace Worker.Cirrus.Fleet;

/// <summary>
/// Lets a <c>worker run</c> host run the Cirrus tasks a bridge queued: a payload with a
/// <c>cirrus_task</c> runs the agent on the backend its isolation picks, as <c>worker cirrus run</c>
/// would, with the agent from this host's cache (else <c>WORKER_CIRRUS_AGENT_URL</c>).
/// </summary>
/// <param name="allowed">The backends this host runs Cirrus tasks on (<c>WORKER_CIRRUS_FLEET_BACKENDS</c>); a task for another is refused.</param>
public sealed class CirrusPayloadReader(AgentBinaries agents, IReadOnlyList<string> allowed) : IPayloadReader
{
    public JobSpec? Read(JobPayload payload)
    {
        if (FleetPayload.Read(payload) is not { } order)
        {
            return null;
        }
        var backend = CirrusJobSpec.BackendOf(order.Kind);
        if (!allowed.Contains(backend))
        {
            throw new JobRefusedException(
                $"this host runs no Cirrus tasks on backend '{backend}' (WORKER_CIRRUS_FLEET_BACKENDS={string.Join(",", allowed)})");
        }
        return CirrusJobSpec.Of(order, agents) with { JobId = payload.JobId };
    }
}
