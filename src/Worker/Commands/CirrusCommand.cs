using System.CommandLine;
using Worker.Cirrus.Config;
using Worker.Core.Configuration;

namespace Worker.Commands;

/// <summary>
/// <c>worker cirrus run|pause|resume|bridge</c>: a drop-in for <c>cirrus worker run|pause|resume</c>
/// with cirrus-cli's flags and worker file (the file wins over the flags, as there), and fleet mode.
/// </summary>
public static class CirrusCommand
{
    public static Command Create()
    {
        var command = new Command("cirrus", "Cirrus CI persistent worker: a drop-in for `cirrus worker` whose tasks run on fresh machines.");
        command.Subcommands.Add(Subcommand("run", "Register with Cirrus CI and run its tasks until SIGTERM or SIGINT (drains first) or Cirrus says shutdown.",
            (settings, file, flags, _) => CirrusRunCommand.RunAsync(settings, file, flags)));
        command.Subcommands.Add(Subcommand("pause", "Tell Cirrus CI to give this worker no new tasks (--wait: until none runs).",
            (settings, file, flags, wait) => CirrusPauseCommand.RunAsync(settings, file, flags, disabled: true, wait), withWait: true));
        command.Subcommands.Add(Subcommand("resume", "Tell Cirrus CI to give this worker tasks again.",
            (settings, file, flags, _) => CirrusPauseCommand.RunAsync(settings, file, flags, disabled: false, wait: false)));
        command.Subcommands.Add(Subcommand("bridge", "Fleet mode: register as one worker with the fleet's resources and put each task on the AMQP job queue for the worker run hosts.",
            (settings, file, flags, _) => CirrusBridgeCommand.RunAsync(settings, file, flags)));
        return command;
    }

    private static Command Subcommand(string name, string description, Func<SettingsSource, string?, CirrusFlags, bool, Task<int>> run, bool withWait = false)
    {
        var file = new Option<string?>("--file", "-f") { Description = "The worker's YAML file (cirrus-cli's format); its keys win over the flags." };
        var workerName = new Option<string?>("--name") { Description = "The worker's name (default: the host name without .lan or .local)." };
        var token = new Option<string?>("--token") { Description = "The pool's registration token." };
        var labels = new Option<string[]>("--labels") { Description = "Labels, key=value (repeat or comma-separate)." };
        var resources = new Option<string[]>("--resources") { Description = "Resources, key=number (repeat or comma-separate)." };
        var endpoint = new Option<string?>("--rpc-endpoint") { Description = $"Cirrus CI's gRPC endpoint (default {CirrusWorkerConfig.DefaultRpcEndpoint})." };
        var wait = new Option<bool>("--wait") { Description = "Return only when no task runs on the worker." };
        var command = new Command(name, description) { file, workerName, token, labels, resources, endpoint };
        if (withWait)
        {
            command.Options.Add(wait);
        }
        command.SetAction((result, _) => CommandErrors.GuardAsync(() => run(
            SettingsSource.FromEnvironment(),
            result.GetValue(file),
            new CirrusFlags
            {
                Name = result.GetValue(workerName),
                Token = result.GetValue(token),
                Labels = result.GetValue(labels) ?? [],
                Resources = result.GetValue(resources) ?? [],
                RpcEndpoint = result.GetValue(endpoint),
            },
            withWait && result.GetValue(wait))));
        return command;
    }
}
