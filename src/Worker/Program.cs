using System.CommandLine;
using Worker.Commands;

var root = new RootCommand("worker: takes CI jobs from a queue, boots a fresh machine per job, runs the job's script and reports back.")
{
    ExecCommand.Create(),
    RunCommand.Create(),
    SubmitCommand.Create(),
    ConfigCommand.Create(),
    CleanupCommand.Create(),
    CirrusCommand.Create(),
};
// Signals are the commands' business (drain, cancel); System.CommandLine must not take them over.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
