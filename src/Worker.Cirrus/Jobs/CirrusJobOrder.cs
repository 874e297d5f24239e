using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Security;
using Worker.Cirrus.Tasks;
using Worker.Core.Backends;

namespace Worker.Cirrus.Jobs;

/// <summary>
/// Everything a Cirrus task's job is made of: the task's agent (ID, secrets, endpoint), its isolation,
/// the agent version and the <c>append.run</c> of the resource modifier it holds. <c>worker cirrus run</c>
/// makes it from the poll; in fleet mode it travels in the AMQP payload to the host that runs it.
/// </summary>
/// <param name="AppendRun">The held modifier's <c>append.run</c> and the name of its lease (the VM backends hold it while the VM exists); null when none.</param>
/// <param name="SoftnetAllow">tart: the networks softnet lets the VM reach (<c>softnet-allow</c>), when softnet is on.</param>
public sealed record CirrusJobOrder(AgentTask Agent, Isolation Isolation, string AgentVersion, RunArguments? AppendRun = null, IReadOnlyList<string>? SoftnetAllow = null)
{
    public string TaskId => Agent.TaskId;

    public IsolationKind Kind => IsolationKinds.Of(Isolation) ?? IsolationKind.None;

    /// <summary>The job id: the task ID when it is a number (it always is today), else a stable 63-bit hash of it.</summary>
    public long JobId => JobIdOf(TaskId);

    public static long JobIdOf(string taskId)
    {
        if (long.TryParse(taskId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0)
        {
            return id;
        }
        var hash = BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(taskId)), 0) & long.MaxValue;
        return hash == 0 ? 1 : hash;
    }

    /// <summary>
    /// The order for a task this worker took: a tart task's softnet as the security section makes it
    /// (on when asked or forced, with the allowed networks), the held modifier's arguments.
    /// </summary>
    public static CirrusJobOrder Of(CirrusTask task, SecurityPolicy security)
    {
        var (isolation, allow) = Secured(task.Wire.Isolation, security);
        return new CirrusJobOrder(task.Agent, isolation, task.AgentVersion,
            task.Held.Modifier is { } lease ? new RunArguments(lease.LeaseName, lease.AppendRun) : null, allow);
    }

    /// <summary>A copy of <paramref name="wire"/> with a tart VM's softnet as the security section makes it, and the networks it allows.</summary>
    public static (Isolation Isolation, IReadOnlyList<string> SoftnetAllow) Secured(Isolation? wire, SecurityPolicy security)
    {
        var isolation = wire?.Clone() ?? new Isolation { None = new Isolation.Types.None() };
        if (isolation.TypeCase != Isolation.TypeOneofCase.Tart)
        {
            return (isolation, []);
        }
        var (softnet, allowed) = IsolationCheck.TartSoftnet(isolation.Tart, security);
        isolation.Tart.Softnet = softnet;
        return (isolation, allowed);
    }
}
