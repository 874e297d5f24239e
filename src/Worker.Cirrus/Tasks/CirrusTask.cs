using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Config;

namespace Worker.Cirrus.Tasks;

/// <summary>
/// A task this worker took: admitted by the security rules and the ledger, with everything its
/// machine and agent need. <see cref="Held"/> counts it (and holds its resource modifier) until the
/// session disposes it after the runner returned.
/// </summary>
public sealed record CirrusTask(
    PollResponse.Types.AgentAwareTask Wire,
    IsolationKind Isolation,
    AgentTask Agent,
    string AgentVersion,
    TaskLedger.RunningTask Held,
    CirrusUpstream Upstream)
{
    public string Id => Agent.TaskId;
}
