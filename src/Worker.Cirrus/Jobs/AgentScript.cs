using Worker.Cirrus.Agent;
using Worker.Cirrus.Tasks;
using Worker.Core.Scripts;

namespace Worker.Cirrus.Jobs;

/// <summary>
/// A Cirrus task's script: the agent for its version, OS and architecture from cirrus-cli's cache
/// (downloaded when missing), started as reference §5 shows for its isolation. none runs the cached
/// binary in place; a container or VM gets it copied in at <see cref="AgentLaunch.MachineAgentPath"/>.
/// </summary>
public sealed class AgentScript(CirrusJobOrder order, AgentBinaries agents) : IJobScript
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public async Task<JobScript> GenerateAsync(IScriptGenerator generator, CancellationToken ct)
    {
        // A container is Linux on this host's architecture.
        var os = order.Kind == IsolationKind.None ? HostPlatform.Os : "linux";
        string agent;
        try
        {
            agent = await agents.ResolveAsync(order.AgentVersion, os, HostPlatform.Arch, ct);
        }
        catch (AgentUnavailableException e)
        {
            throw new ScriptGenerationException(e.Message, e);
        }
        return order.Kind switch
        {
            IsolationKind.None => new JobScript(AgentLaunch.None(order.Agent, agent).ToScript()),
            IsolationKind.Container => new JobScript(AgentLaunch.Container(order.Agent).ToScript(),
                [new MachineFile(AgentLaunch.MachineAgentPath, agent, OwnerOnly)]),
            _ => throw new ScriptGenerationException($"\"{order.Kind.KeyName()}\" isolation is not supported by this worker yet"),
        };
    }
}
