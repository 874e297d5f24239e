using System.Globalization;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Api;
using Worker.Cirrus.Security;
using Worker.Cirrus.Tasks;
using Worker.Core.Backends;
using Worker.Core.Jobs;

namespace Worker.Cirrus.Jobs;

/// <summary>
/// The pipeline's view of a Cirrus task: the isolation picks the backend (none → local, container →
/// docker, tart → tart, vetu → vetu) and what its machine is asked for; the script starts the agent
/// as cirrus-cli does; the two secrets never reach a log line. The agent streams the task's output to
/// Cirrus itself, so the worker's log-silence limit does not apply; its hard limit does.
/// </summary>
public static class CirrusJobSpec
{
    /// <summary>The backends Cirrus tasks run on, one per supported isolation.</summary>
    public static IReadOnlyList<string> Backends { get; } = ["local", "docker", "tart", "vetu"];

    /// <summary>The backend each isolation runs on.</summary>
    public static string BackendOf(IsolationKind kind) => kind switch
    {
        IsolationKind.None => "local",
        IsolationKind.Container => "docker",
        IsolationKind.Tart => "tart",
        IsolationKind.Vetu => "vetu",
        _ => throw new JobRefusedException($"\"{kind.KeyName()}\" isolation is not supported by this worker"),
    };

    public static JobSpec Of(CirrusJobOrder order, AgentBinaries agents) => new()
    {
        JobId = order.JobId,
        Backend = BackendOf(order.Kind),
        Machine = _ => MachineOf(order),
        Script = new AgentScript(order, agents),
        LogSilence = JobPayload.MaxTimeout,
        Secrets = order.Agent.Secrets,
    };

    /// <summary>The machine a standby of <paramref name="isolation"/> is: what a task of that isolation holding no resource modifier asks for.</summary>
    public static StartAttributes StandbyMachine(Isolation isolation, SecurityPolicy security)
    {
        var (secured, allow) = CirrusJobOrder.Secured(isolation, security);
        return MachineOf(new CirrusJobOrder(new AgentTask("standby", "", "", "", ""), secured, AgentVersion.Default, null, allow));
    }

    private static StartAttributes MachineOf(CirrusJobOrder order)
    {
        var machine = new StartAttributes { JobId = order.JobId, RepositorySlug = "cirrus-task-" + order.TaskId };
        switch (order.Kind)
        {
            case IsolationKind.None:
                // cirrus-cli: the worker's environment; a stop is SIGINT, then SIGKILL 3 s later.
                return machine with { InheritEnvironment = true, InterruptGrace = TimeSpan.FromSeconds(3) };
            case IsolationKind.Container:
                var container = order.Isolation.Container;
                return machine with
                {
                    Image = container.Image,
                    Cpus = container.Cpu > 0 ? container.Cpu : null,
                    Memory = container.Memory > 0 ? container.Memory * Mib : null,
                    Volumes = container.Volumes.Select(v => VolumeText(v.Source, v.Target, v.ReadOnly)).ToList(),
                };
            case IsolationKind.Tart:
                var tart = order.Isolation.Tart;
                return machine with
                {
                    Image = tart.Image,
                    Cpus = tart.Cpu > 0 ? tart.Cpu : null,
                    Memory = tart.Memory > 0 ? tart.Memory * Mib : null,
                    Disk = tart.DiskSize > 0 ? tart.DiskSize * Gib : null,
                    // Tart shares a directory by name; here the target names it, and a volume needs one.
                    Volumes = tart.Volumes.Select(v => VolumeText(v.Source, v.Target, v.ReadOnly)).ToList(),
                    AppendRun = order.AppendRun,
                    Vm = Account(tart.User, tart.Password, tart.Port) with
                    {
                        Softnet = tart.Softnet,
                        SoftnetAllow = order.SoftnetAllow ?? [],
                        Nested = tart.Nested,
                        Display = tart.Display.Length > 0 ? tart.Display : null,
                    },
                };
            case IsolationKind.Vetu:
                var vetu = order.Isolation.Vetu;
                return machine with
                {
                    Image = vetu.Image,
                    Cpus = vetu.Cpu > 0 ? vetu.Cpu : null,
                    Memory = vetu.Memory > 0 ? vetu.Memory * Mib : null,
                    Disk = vetu.DiskSize > 0 ? vetu.DiskSize * Gib : null,
                    AppendRun = order.AppendRun,
                    Vm = Account(vetu.User, vetu.Password, vetu.Port) with
                    {
                        Network = vetu.NetworkingCase switch
                        {
                            Api.Isolation.Types.Vetu.NetworkingOneofCase.Bridged => "bridged:" + vetu.Bridged.Interface,
                            Api.Isolation.Types.Vetu.NetworkingOneofCase.Host => "host",
                            _ => null,
                        },
                    },
                };
            default:
                throw new JobRefusedException($"\"{order.Kind.KeyName()}\" isolation is not supported by this worker");
        }
    }

    private const long Mib = 1L << 20;
    private const long Gib = 1L << 30;

    /// <summary>The image's account as the task gives it; what it leaves empty (port 0 too) is the backend's setting.</summary>
    private static VmRequest Account(string user, string password, uint port) => new()
    {
        User = user.Length > 0 ? user : null,
        Password = password.Length > 0 ? password : null,
        SshPort = port > 0 ? (int)port : null,
    };

    /// <summary>A task's volume as a backend reads it: <c>SOURCE:TARGET[:ro]</c>.</summary>
    private static string VolumeText(string source, string target, bool readOnly) => readOnly ? $"{source}:{target}:ro" : $"{source}:{target}";
}
