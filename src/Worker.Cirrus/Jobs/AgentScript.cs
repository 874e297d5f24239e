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

    // A tart VM's agent is always arm64 (Apple silicon); its OS is the guest's (reference §4, tart step 7).
    private const string TartArch = "arm64";

    public async Task<JobScript> GenerateAsync(IScriptGenerator generator, CancellationToken ct)
    {
        // As cirrus-cli picks them: none runs on this host; a container and a vetu VM are Linux on this
        // host's architecture; a tart VM's OS is known once it booted (below).
        switch (order.Kind)
        {
            case IsolationKind.None:
                return new JobScript(AgentLaunch.None(order.Agent, await ResolveAsync(HostPlatform.Os, HostPlatform.Arch, ct)).ToScript());
            case IsolationKind.Container:
                return new JobScript(AgentLaunch.Container(order.Agent).ToScript(), [AgentFile(await ResolveAsync("linux", HostPlatform.Arch, ct))]);
            case IsolationKind.Vetu:
                return VmScript([AgentFile(await ResolveAsync("linux", HostPlatform.Arch, ct))]);
            case IsolationKind.Tart:
                // cirrus-cli asks `tart get --format json` after the boot and takes its OS ("darwin" when tart can't say).
                return VmScript([]) with { FilesFor = async (guestOs, t) => [AgentFile(await ResolveAsync(TartAgentOs(guestOs), TartArch, t))] };
            default:
                throw new ScriptGenerationException($"\"{order.Kind.KeyName()}\" isolation is not supported by this worker");
        }
    }

    /// <summary>The OS of a tart VM's agent: the guest's, as tart reported it; darwin when it did not.</summary>
    private static string TartAgentOs(string? guestOs) => guestOs is { Length: > 0 } os ? os : "darwin";

    private async Task<string> ResolveAsync(string os, string arch, CancellationToken ct)
    {
        try
        {
            return await agents.ResolveAsync(order.AgentVersion, os, arch, ct);
        }
        catch (AgentUnavailableException e)
        {
            throw new ScriptGenerationException(e.Message, e);
        }
    }

    private static MachineFile AgentFile(string agent) => new(AgentLaunch.MachineAgentPath, agent, OwnerOnly);

    /// <summary>The VM's name (<c>CIRRUS_VM_ID</c>) and the clock to sync to are known once the VM exists.</summary>
    private JobScript VmScript(IReadOnlyList<MachineFile> files)
    {
        var syncTime = order.Kind == IsolationKind.Tart ? order.Isolation.Tart.SyncTimeOverSsh : order.Isolation.Vetu.SyncTimeOverSsh;
        var sentryDsn = Environment.GetEnvironmentVariable("SENTRY_DSN") is { Length: > 0 } dsn ? dsn : null;
        string Text(string vm) => AgentLaunch.Vm(order.Kind, order.Agent, vm, sentryDsn).ToVmScript(syncTime ? DateTimeOffset.UtcNow : null);
        return new JobScript(Text("(the VM)"), files) { ForMachine = Text };
    }
}
