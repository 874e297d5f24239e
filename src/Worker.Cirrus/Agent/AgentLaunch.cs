using System.Text;
using Worker.Cirrus.Tasks;
using Worker.Core.Scripts;

namespace Worker.Cirrus.Agent;

/// <summary>
/// How the agent is started for each isolation, exactly as cirrus-cli starts it (reference §5): its
/// command line, the environment it gets and where it runs. The pipeline's script for a Cirrus task
/// is one of the renderings below.
/// </summary>
/// <param name="WorkingDirectory">Made (0700) and entered by the script before the agent starts; relative to the machine's own directory when not absolute.</param>
/// <param name="PreCreatedWorkingDirectory">The agent is told the working directory (<c>-pre-created-working-dir</c>, last on its command line).</param>
public sealed record AgentLaunch(
    IReadOnlyList<string> Argv,
    IReadOnlyDictionary<string, string> Environment,
    bool InheritsWorkerEnvironment,
    string? WorkingDirectory,
    bool PreCreatedWorkingDirectory = false)
{
    /// <summary>Where the agent lives inside a container or VM.</summary>
    public const string MachineAgentPath = "/tmp/cirrus-ci/cirrus";

    public const string ContainerWorkingDirectory = "/tmp/cirrus-ci/working-dir";

    /// <summary>
    /// none: the working directory, made fresh (0700) inside the task's own directory on this host,
    /// which goes with it; cirrus-cli makes <c>$TMPDIR/cirrus-build</c> and removes it itself.
    /// </summary>
    public const string NoneWorkingDirectory = "cirrus-build";

    /// <summary>none: the cached binary on this host, in its fresh working directory (passed as <c>-pre-created-working-dir</c>), with the worker's environment and nothing added.</summary>
    public static AgentLaunch None(AgentTask task, string agentPath) => new(
        [agentPath, "agent", "-api-endpoint", task.ApiEndpoint, "-server-token", task.ServerSecret, "-client-token", task.ClientSecret,
         "-task-id", task.TaskId],
        new Dictionary<string, string>(),
        InheritsWorkerEnvironment: true,
        NoneWorkingDirectory,
        PreCreatedWorkingDirectory: true);

    /// <summary>container: the copied binary as the entrypoint, empty command hooks, no environment of its own, the working volume as its directory.</summary>
    public static AgentLaunch Container(AgentTask task) => new(
        [MachineAgentPath, "agent", "-api-endpoint", task.ApiEndpoint, "-server-token", task.ServerSecret, "-client-token", task.ClientSecret,
         "-task-id", task.TaskId, "-command-from", "", "-command-to", ""],
        new Dictionary<string, string>(),
        InheritsWorkerEnvironment: false,
        ContainerWorkingDirectory);

    /// <summary>
    /// tart and vetu: a login shell over SSH; the agent keeps its own default working directory.
    /// tart exports the VM name, the Sentry tags and the trace context; vetu only the VM name.
    /// Both pass SENTRY_DSN through when the worker has it.
    /// </summary>
    public static AgentLaunch Vm(IsolationKind kind, AgentTask task, string vmName, string? sentryDsn)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["CIRRUS_VM_ID"] = vmName };
        if (kind == IsolationKind.Tart)
        {
            environment["CIRRUS_SENTRY_TAGS"] = task.SentryTags;
            environment["TRACEPARENT"] = task.Traceparent;
            environment["TRACESTATE"] = task.Tracestate;
        }
        if (sentryDsn is not null)
        {
            environment["SENTRY_DSN"] = sentryDsn;
        }
        return new AgentLaunch(
            [MachineAgentPath, "agent", "-api-endpoint", task.ApiEndpoint, "-server-token", task.ServerSecret, "-client-token", task.ClientSecret, "-task-id", task.TaskId],
            environment,
            InheritsWorkerEnvironment: false,
            WorkingDirectory: null);
    }

    /// <summary>
    /// A bash script that runs this launch: the working directory made and entered, the environment
    /// exported, the agent exec'd with its argv as is (and the working directory, when it is told it).
    /// </summary>
    public string ToScript()
    {
        var script = new StringBuilder("#!/bin/bash\n");
        if (WorkingDirectory is not null)
        {
            var directory = ShellQuoting.Quote(WorkingDirectory);
            script.Append("mkdir -p -m 0700 -- ").Append(directory).Append(" && cd -- ").Append(directory).Append(" || exit 1\n");
        }
        foreach (var (name, value) in Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            script.Append("export ").Append(name).Append('=').Append(ShellQuoting.Quote(value)).Append('\n');
        }
        script.Append("exec ").Append(string.Join(' ', Argv.Select(ShellQuoting.Quote)));
        if (PreCreatedWorkingDirectory)
        {
            script.Append(" '-pre-created-working-dir' \"$PWD\"");
        }
        script.Append('\n');
        return script.ToString();
    }

    /// <summary>
    /// The script a VM runs: <see cref="ToShellInput"/> fed to the user's login shell, as cirrus-cli
    /// writes it into an SSH shell session (so the login profile applies).
    /// </summary>
    public string ToVmScript(DateTimeOffset? syncClockTo = null) =>
        "#!/bin/bash\nexec \"${SHELL:-/bin/bash}\" -l <<'CIRRUS_AGENT_LAUNCH'\n" + ToShellInput(syncClockTo) + "CIRRUS_AGENT_LAUNCH\n";

    /// <summary>
    /// What cirrus-cli writes into the SSH shell's stdin for tart and vetu: one <c>export K="V"</c> per
    /// variable, the optional clock sync, the agent line with the secrets in double quotes, then
    /// <c>exit</c>. Unlike cirrus-cli, <c>"</c>, <c>\</c>, <c>$</c> and <c>`</c> in a value are escaped,
    /// which changes nothing for the values Cirrus sends.
    /// </summary>
    public string ToShellInput(DateTimeOffset? syncClockTo = null)
    {
        var input = new StringBuilder();
        foreach (var (name, value) in Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            input.Append("export ").Append(name).Append("=\"").Append(Escape(value)).Append("\"\n");
        }
        if (syncClockTo is { } now)
        {
            input.Append("sudo -n date -u ").Append(now.UtcDateTime.ToString("MMddHHmmyyyy.ss", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }
        // argv: path, "agent", -api-endpoint, ep, -server-token, s, -client-token, c, -task-id, id
        input.Append(Argv[0]).Append(" agent -api-endpoint ").Append(Argv[3])
            .Append(" -server-token \"").Append(Escape(Argv[5])).Append('"')
            .Append(" -client-token \"").Append(Escape(Argv[7])).Append('"')
            .Append(" -task-id ").Append(Argv[9])
            .Append("\nexit\n");
        return input.ToString();
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("$", "\\$", StringComparison.Ordinal)
            .Replace("`", "\\`", StringComparison.Ordinal);
}
