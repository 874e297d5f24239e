using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Worker.Composition;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;

namespace Worker.Commands;

/// <summary>
/// <c>worker exec JOBFILE [--backend NAME]</c>: one job through the whole pipeline, in-process, on
/// the file queue, with its log streamed to the terminal. Exits with the script's exit code (124
/// on timeout, 130 when cancelled with Ctrl-C or SIGTERM).
/// </summary>
public static class ExecCommand
{
    public const string ExecQueueName = "exec";

    public static Command Create()
    {
        var file = new Argument<FileInfo>("JOBFILE") { Description = "A job file (YAML or JSON): script, env, secrets, image, timeout, ..." };
        var backend = new Option<string?>("--backend")
        {
            Description = $"Backend to run on: {string.Join(", ", Backends.All.Select(b => b.Name))} (default: WORKER_PROVIDER_NAME, else local).",
        };
        var command = new Command("exec", "Run one job file through the whole pipeline and stream its log here.") { file, backend };
        command.SetAction((result, _) => CommandErrors.GuardAsync(() =>
            RunAsync(result.GetValue(file)!, result.GetValue(backend), Console.Out)));
        return command;
    }

    public static async Task<int> RunAsync(FileInfo file, string? backendName, TextWriter output)
    {
        var settings = SettingsSource.FromEnvironment();
        var quiet = settings.Find(WorkerOptions.LogLevel.Key) is null
            ? settings.With(WorkerOptions.LogLevel.Key, "warning")
            : settings;
        using var context = WorkerContext.Create(quiet);
        // Its own folder, so a `worker run` on the same BASE_DIR never takes the job away.
        // A single host: a job this host can't run (its backend is down) fails at once instead of being retried here.
        var options = context.Options with { FilePolling = TimeSpan.FromMilliseconds(100), JobQueueName = ExecQueueName, SingleHost = true };
        using var execContext = context.With(_ => options);
        var payload = JobFile.Load(file.FullName, options.JobQueueName);
        var jobId = payload.JobId;
        var registration = backendName is null ? Backends.Configured(settings) : Backends.Named(backendName, "--backend");
        await using var backend = registration.CreateBackend(execContext.Services);
        var sink = new ConsoleLogSink(output);
        await using var queue = FileQueueRegistration.CreateQueue(execContext.Services, id => id == jobId ? sink : null, onlyJobId: jobId);
        queue.Submit(payload);

        var logger = execContext.LoggerFactory.CreateLogger("exec");
        using var stop = new CancellationTokenSource();
        void Cancel(PosixSignalContext signal)
        {
            signal.Cancel = true;
            logger.LogWarning("{Signal}: cancelling job {JobId}", signal.Signal, jobId);
            if (!execContext.Cancellations.Cancel(jobId, $"Cancelled by {signal.Signal} on {options.Host}"))
            {
                stop.Cancel();
            }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);

        var pipeline = execContext.CreatePipeline(backend);
        var status = new ProcessorStatus("exec");
        await foreach (var job in queue.ReceiveAsync(stop.Token))
        {
            var verdict = await pipeline.RunAsync(job, status, CancellationToken.None);
            if (!verdict.Requeue)
            {
                return verdict.ExitCode;
            }
            logger.LogWarning("Job {JobId} requeued: {Reason}", jobId, verdict.Message);
        }
        return OutcomePolicy.CancelledExitCode;
    }
}
