using Microsoft.Extensions.Logging;
using System.CommandLine;
using System.Globalization;
using Worker.Composition;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Queues;

namespace Worker.Commands;

/// <summary>
/// <c>worker submit JOBFILE [--follow]</c>: puts a job on the configured queue; with
/// <c>--follow</c> prints its log as it grows and exits with its result.
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
        return context.Options.JobSource switch
        {
            "file" => await SubmitToFileQueueAsync(context, payload, follow, output, ct),
            "amqp" => await SubmitToAmqpQueueAsync(context, payload, follow, output, ct),
            var other => throw new InvalidSettingException("WORKER_QUEUE_TYPE", other, "file or amqp"),
        };
    }

    private static async Task<int> SubmitToFileQueueAsync(WorkerContext context, JobPayload payload, bool follow, TextWriter output, CancellationToken ct)
    {
        var queue = QueueFactory.CreateFileQueue(context);
        var path = queue.Submit(payload);
        await Console.Error.WriteLineAsync($"Submitted job {payload.JobId} to {path}");
        if (!follow)
        {
            await output.WriteLineAsync(payload.JobId.ToString(CultureInfo.InvariantCulture));
            return 0;
        }
        var logPath = queue.PathOf(FileJobQueue.Logs, $"{payload.JobId}.log");
        var statePath = queue.PathOf(FileJobQueue.Finished, $"{payload.JobId}.state");
        long offset = 0;
        while (true)
        {
            offset = await PrintNewAsync(logPath, offset, output, ct);
            if (File.Exists(statePath))
            {
                await Task.Delay(100, ct);
                await PrintNewAsync(logPath, offset, output, ct);
                var state = (await File.ReadAllTextAsync(statePath, ct)).Trim();
                await Console.Error.WriteLineAsync($"Job {payload.JobId} {state}");
                return ExitCodeOf(FinishStates.FromWireName(state));
            }
            await Task.Delay(200, ct);
        }
    }

    private static async Task<int> SubmitToAmqpQueueAsync(WorkerContext context, JobPayload payload, bool follow, TextWriter output, CancellationToken ct)
    {
        var submitter = new Worker.Amqp.AmqpSubmitter(Worker.Amqp.AmqpOptions.Load(context.Settings), context.Options.JobQueueName,
            context.LoggerFactory.CreateLogger("submit"));
        var state = await submitter.SubmitAsync(payload, follow, output, Console.Error, ct);
        if (!follow)
        {
            await output.WriteLineAsync(payload.JobId.ToString(CultureInfo.InvariantCulture));
            return 0;
        }
        return ExitCodeOf(state);
    }

    public static int ExitCodeOf(FinishState? state) => state switch
    {
        FinishState.Passed => 0,
        FinishState.Failed => 1,
        FinishState.Cancelled => 130,
        _ => 2,
    };

    private static async Task<long> PrintNewAsync(string path, long offset, TextWriter output, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            return offset;
        }
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length <= offset)
        {
            return offset;
        }
        stream.Seek(offset, SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        var text = await reader.ReadToEndAsync(ct);
        await output.WriteAsync(text);
        await output.FlushAsync(ct);
        return stream.Length;
    }
}
