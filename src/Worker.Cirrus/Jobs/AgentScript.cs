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
        // As cirrus-cli picks them: a container and a vetu VM are Linux on this host's architecture; a
        // tart VM is taken for macOS on arm64 (cirrus-cli asks tart after the boot and falls back to that).
        var (os, arch) = order.Kind switch
        {
            IsolationKind.None => (HostPlatform.Os, HostPlatform.Arch),
            IsolationKind.Tart => ("darwin", "arm64"),
            _ => ("linux", HostPlatform.Arch),
        };
        string agent;
        try
        {
            agent = await agents.ResolveAsync(order.AgentVersion, os, arch, ct);
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
            IsolationKind.Tart or IsolationKind.Vetu => VmScript(agent),
            _ => throw new ScriptGenerationException($"\"{order.Kind.KeyName()}\" isolation is not supported by this worker"),
        };
    }

    /// <summary>The VM's name (<c>CIRRUS_VM_ID</c>) and the clock to sync to are known once the VM exists.</summary>
    private JobScript VmScript(string agent)
    {
        var syncTime = order.Kind == IsolationKind.Tart ? order.Isolation.Tart.SyncTimeOverSsh : order.Isolation.Vetu.SyncTimeOverSsh;
        var sentryDsn = Environment.GetEnvironmentVariable("SENTRY_DSN") is { Length: > 0 } dsn ? dsn : null;
        string Text(string vm) => AgentLaunch.Vm(order.Kind, order.Agent, vm, sentryDsn).ToVmScript(syncTime ? DateTimeOffset.UtcNow : null);
        return new JobScript(Text("(the VM)"), [new MachineFile(AgentLaunch.MachineAgentPath, agent, OwnerOnly)]) { ForMachine = Text };
    }
}
