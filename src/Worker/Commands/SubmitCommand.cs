using System.CommandLine;
using System.Globalization;
using Worker.Composition;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Commands;

/// <summary>
/// <c>worker submit JOBFILE [--follow]</c>: puts a job on the configured queue; with
/// <c>--follow</c> prints its log as it grows and exits with its result, in the exit codes of
/// <see cref="OutcomePolicy"/> (only the finish state travels back, so errored is 125).
/// </summary>
public static class SubmitCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("JOBFILE") { Description = "A job file (YAML or JSON)." };
        var follow = new Option<bool>("--follow", "-f") { Description = "Print the job's log and states live; exit with its result." };
        var command = new Command("submit", "Put a job on the configured queue.") { file, follow };
        command.SetAction((result, ct) => CommandErrors.GuardAsync(() =>
            RunAsync(SettingsSource.FromEnvironment(), result.GetValue(file)!, result.GetValue(follow), Console.Out, ct)));
        return command;
    }

    public static async Task<int> RunAsync(SettingsSource settings, FileInfo file, bool follow, TextWriter output, CancellationToken ct)
    {
        using var context = WorkerContext.Create(settings.Find(WorkerOptions.LogLevel.Key) is null ? settings.With(WorkerOptions.LogLevel.Key, "warning") : settings);
        var payload = JobFile.Load(file.FullName, context.Options.JobQueueName);
        // With a comma list, the first source listed that takes submitted jobs.
        var sources = JobSources.Configured(settings);
        var submitter = sources.FirstOrDefault(s => s.CreateSubmitter is not null)?.CreateSubmitter!.Invoke(context.Services)
            ?? throw new InvalidSettingException(settings.Find(JobSources.QueueType.Key)?.Variable ?? "WORKER_QUEUE_TYPE", string.Join(",", sources.Select(s => s.Name)),
                "a job source that takes submitted jobs: " + string.Join(", ", JobSources.All.Where(s => s.CreateSubmitter is not null).Select(s => s.Name)));
        var state = await submitter.SubmitAsync(payload, follow, output, Console.Error, ct);
        if (!follow)
        {
            await output.WriteLineAsync(payload.JobId.ToString(CultureInfo.InvariantCulture));
            return 0;
        }
        return OutcomePolicy.ExitCodeOf(state);
    }
}
