using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Logs;
using Worker.Core.Scripts;
using Worker.Core.Telemetry;

namespace Worker.Core.Pipeline;

/// <summary>
/// Runs one job through its steps, in order: subscribe cancellation, generate script, report
/// received, open log, start the machine (startup timeout), have the files its guest's OS needs,
/// upload them and the script (upload timeout), report started and the worker-info fold, run the
/// script (hard timeout, log silence, maximum log length, cancellation), close the log, report the result (which acks), stop the machine; a
/// requeued job's machine is stopped before the job goes back to the queue. The run is total:
/// whatever fails, and however, becomes an outcome that is reported. The teardown
/// (close the log, report, stop the machine) runs on a fresh token under one teardown timeout in
/// total, also when the worker is shutting down (then within the stop window's share). Last, on
/// every path, the job hears that it ended.
/// </summary>
/// <param name="backend">The worker's own backend: every job that names none runs on it.</param>
/// <param name="breaker">This host's circuit breaker; told what the outcomes of jobs on <paramref name="backend"/> say about it.</param>
/// <param name="backends">The other backends jobs may name (a Cirrus task's isolation); null: none.</param>
/// <param name="readers">Readers of payloads that carry more than a travis job (fleet mode's Cirrus tasks).</param>
public sealed class JobPipeline(
    WorkerOptions options,
    IBackend backend,
    IScriptGenerator scripts,
    JobCancellations cancellations,
    MachineLabels labels,
    ILogger<JobPipeline> logger,
    HostCircuitBreaker? breaker = null,
    TimeProvider? clock = null,
    BackendCatalog? backends = null,
    IReadOnlyList<IPayloadReader>? readers = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ShutdownBudget _shutdown = ShutdownBudget.For(options);

    /// <summary>This host's circuit breaker, told what each outcome says about the backend; null where there is none (<c>worker exec</c>).</summary>
    public HostCircuitBreaker? Breaker => breaker;

    /// <param name="job">The job.</param>
    /// <param name="status">Updated as the job moves from step to step.</param>
    /// <param name="stopToken">Fires when the worker stops for good; the job is then requeued.</param>
    /// <returns>The verdict that was reported.</returns>
    public async Task<Verdict> RunAsync(IJob job, ProcessorStatus status, CancellationToken stopToken)
    {
        var spec = job.Spec;
        var jobId = spec.JobId;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = jobId });
        using var trace = JobTrace.Start(job, backend.Name, options.Host, status);
        using var cancel = cancellations.Subscribe(jobId);
        using var jobCts = CancellationTokenSource.CreateLinkedTokenSource(stopToken, cancel.Token);
        using var teardown = new CleanupStack(options.Teardown, _clock, logger);
        var ct = jobCts.Token;

        JobOutcome outcome;
        JobLogWriter? log = null;
        IBackend? machineBackend = null;
        try
        {
            status.Enter(jobId, JobSteps.GenerateScript);
            spec = Read(spec);
            var hardLimit = spec.HardLimit ?? options.HardLimit;
            var silenceLimit = spec.LogSilence ?? options.LogSilence;
            var script = trace.ExportContext(await GenerateScriptAsync(spec, ct));

            status.Enter(jobId, JobSteps.Received);
            await ReportAsync(() => job.ReceivedAsync(ct), "received");

            status.Enter(jobId, JobSteps.OpenLog);
            var sink = await job.OpenLogAsync(ct);
            log = new JobLogWriter(sink, jobId, LogSecrets(spec), options.MaxLog, options.PartSize, options.FlushInterval, _clock);

            status.Enter(jobId, JobSteps.StartInstance);
            var (instance, chosen) = await StartInstanceAsync(spec, hardLimit, log, ct);
            machineBackend = chosen;
            trace.Machine(instance);
            // The job's owner hears its result first (unless the job is requeued); the machine goes
            // after, on this processor's time (it takes no other job until then), as travis-worker
            // does. A crash here leaves a labelled machine that the cleanup sidecar removes.
            teardown.Push($"stop machine {instance.Id}", t => StopInstanceAsync(instance, jobId, status, t));

            status.Enter(jobId, JobSteps.UploadScript);
            var files = await MachineFilesAsync(script, instance, ct);
            await WithTimeoutAsync(options.Upload, ct, t => UploadAsync(instance, script, files, t), "uploading the script");

            status.Enter(jobId, JobSteps.Started);
            await ReportAsync(() => job.StartedAsync(instance.Id, ct), "started");
            await log.WriteWorkerMessageAsync(WorkerInfo(instance, chosen), ct);

            status.Enter(jobId, JobSteps.RunScript);
            outcome = await RunScriptAsync(instance, log, hardLimit, silenceLimit, ct);
        }
        catch (Exception e)
        {
            outcome = Classify(e, cancel, stopToken);
        }

        var verdict = OutcomePolicy.Decide(outcome, job.RequeueCount, options.Requeues, options.SingleHost, job.CanRequeue);
        trace.Record(outcome, verdict);
        logger.LogInformation("Job {JobId} outcome {Outcome}: {Verdict}", jobId, outcome, Describe(verdict));
        // Before the requeue is reported, so a host that just broke stops taking jobs before this one is back in the queue.
        // Only its own backend's: the breaker probes that one.
        if (machineBackend is null || machineBackend == backend)
        {
            breaker?.Record(verdict.Host, outcome is JobOutcome.HostFailure failure ? failure.Reason : outcome.ToString());
        }

        // One budget for the whole teardown; a worker being stopped has the stop window's share at most.
        if (stopToken.IsCancellationRequested)
        {
            teardown.CapAt(_shutdown.TeardownLimit);
        }
        if (log is null && verdict.Message is not null && !verdict.Requeue && !verdict.DeadLetter)
        {
            // The job ended before its log was opened (e.g. no script): its owner still gets the reason.
            JobLogWriter? late = null;
            if (await teardown.RunAsync("open the log to say why the job ended", async t => late = await OpenLogAsync(job, spec, t)))
            {
                log = late;
            }
        }
        if (log is { } opened)
        {
            status.Enter(jobId, JobSteps.CloseLog);
            if (verdict.Message is { } message)
            {
                await teardown.RunAsync("write the outcome", t => opened.WriteWorkerMessageAsync($"\n\n{message}\n", t).AsTask());
            }
            // A requeued attempt's log may go on in the next attempt, which then sends its end.
            var final = !(verdict.Requeue && job.RequeueContinuesLog);
            if (!await teardown.RunAsync("close the log", t => opened.CloseAsync(t, final).AsTask()))
            {
                // A flush still under way lets go of the log now, before the result needs it.
                await opened.DisposeAsync();
                log = null;
            }
        }

        // A requeued job may run elsewhere as soon as it is back on the queue, so its machine goes
        // first: no copy of its script may still run here then. One that can't be stopped is logged
        // and the job requeued all the same (left unacknowledged, it would hang).
        if (verdict.Requeue)
        {
            await teardown.UnwindAsync();
        }

        status.Enter(jobId, JobSteps.Finish);
        // A report that fails leaves the job to its queue, which settles it: AMQP gives the delivery
        // back (or delivers it again when the channel is gone); nothing is lost.
        await teardown.RunAsync($"report {Describe(verdict)}", t => ReportResultAsync(job, verdict, outcome, t));

        await teardown.UnwindAsync();
        if (log is not null)
        {
            // After the result: disposing waits for the flush timer's loop to end, a hop through the
            // thread pool that needn't delay the job's result (its final part went out at the close).
            await log.DisposeAsync();
        }
        await EndAsync(job);
        return verdict;
    }

    /// <summary>
    /// The last resort for a job whose run ended in an exception the pipeline itself let through
    /// (a bug): it is reported errored, so its delivery is settled instead of held for good.
    /// </summary>
    public async Task SettleAbandonedAsync(IJob job, Exception failure)
    {
        logger.LogError(failure, "Job {JobId}: the pipeline failed; reporting it errored", job.Spec.JobId);
        using var teardown = new CleanupStack(options.Teardown, _clock, logger);
        await teardown.RunAsync("report errored", async t =>
        {
            try
            {
                await job.FinishAsync(FinishState.Errored, "the worker failed to run the job: " + failure.Message, t);
            }
            catch (InvalidOperationException)
            {
                // Its result was reported before the failure: nothing is held.
            }
        });
        await EndAsync(job);
    }

    /// <summary>The job's own budget bounds it (a Cirrus task's TaskStopped may wait for a server that is away).</summary>
    private async Task EndAsync(IJob job)
    {
        try
        {
            await job.EndedAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {JobId}: telling it that it ended failed", job.Spec.JobId);
        }
    }

    /// <summary>The spec a reader finds in the job's payload, else the job's own.</summary>
    private JobSpec Read(JobSpec spec)
    {
        if (spec.Payload is not { } payload)
        {
            return spec;
        }
        foreach (var reader in readers ?? [])
        {
            if (reader.Read(payload) is { } read)
            {
                return read;
            }
        }
        return spec;
    }

    /// <summary>The files first, so the script finds them.</summary>
    private static async Task UploadAsync(IInstance instance, JobScript script, IReadOnlyList<MachineFile> files, CancellationToken ct)
    {
        foreach (var file in files)
        {
            await using var content = File.OpenRead(file.SourcePath);
            await instance.UploadFileAsync(file.Path, content, file.Mode, ct);
        }
        await instance.UploadScriptAsync(script.TextFor(instance.Id), ct);
    }

    private static Task ReportResultAsync(IJob job, Verdict verdict, JobOutcome outcome, CancellationToken ct) =>
        verdict switch
        {
            { DeadLetter: true } => job.DeadLetterAsync(verdict.Message ?? outcome.ToString(), ct),
            { Requeue: true } => job.RequeueAsync(verdict.Message ?? outcome.ToString(), verdict.RequeueCounted, ct),
            _ => job.FinishAsync(verdict.State ?? FinishState.Errored, verdict.Message, ct),
        };

    private static async Task StopInstanceAsync(IInstance instance, long jobId, ProcessorStatus status, CancellationToken ct)
    {
        status.Enter(jobId, JobSteps.StopInstance);
        try
        {
            await instance.StopAsync(ct);
        }
        finally
        {
            await instance.DisposeAsync();
        }
    }

    private async Task<JobLogWriter> OpenLogAsync(IJob job, JobSpec spec, CancellationToken ct)
    {
        var sink = await job.OpenLogAsync(ct);
        return new JobLogWriter(sink, spec.JobId, LogSecrets(spec), options.MaxLog, options.PartSize, options.FlushInterval, _clock);
    }

    /// <summary>What the job's log masks: the payload's secure values and those its backend puts into every machine.</summary>
    private IReadOnlyList<string> LogSecrets(JobSpec spec)
    {
        try
        {
            var machine = BackendFor(spec).MachineSecrets;
            return machine.Count == 0 ? spec.Secrets : [.. spec.Secrets, .. machine]; // no copy on every job's path when there are none
        }
        catch (JobRefusedException)
        {
            return spec.Secrets; // no backend runs it: its start says so next
        }
    }

    private async Task<JobScript> GenerateScriptAsync(JobSpec spec, CancellationToken ct)
    {
        try
        {
            return await spec.Script.GenerateAsync(scripts, ct);
        }
        catch (ScriptGenerationException e)
        {
            throw new PipelineErrorException(new JobOutcome.Errored("The build script could not be generated: " + e.Message));
        }
    }

    /// <summary>
    /// The files the script needs in this machine; those picked by its guest's OS are had now (a
    /// download is the script's making, not its upload: it is not under the upload timeout).
    /// </summary>
    private static async Task<IReadOnlyList<MachineFile>> MachineFilesAsync(JobScript script, IInstance instance, CancellationToken ct)
    {
        if (script.FilesFor is not { } filesFor)
        {
            return script.Files;
        }
        try
        {
            return await filesFor(instance.GuestOs, ct);
        }
        catch (ScriptGenerationException e)
        {
            throw new PipelineErrorException(new JobOutcome.Errored("The build script could not be generated: " + e.Message));
        }
    }

    private async Task<(IInstance Instance, IBackend Backend)> StartInstanceAsync(JobSpec spec, TimeSpan hardLimit, JobLogWriter log, CancellationToken ct)
    {
        var progress = new LogProgress(log);
        try
        {
            var chosen = BackendFor(spec);
            var attributes = spec.Machine(options.Defaults) with { JobId = spec.JobId, HardTimeout = hardLimit, Labels = labels.For(spec.JobId, hardLimit) };
            return (await WithTimeoutAsync(options.Startup, ct, t => chosen.StartAsync(attributes, progress, t), "starting the machine"), chosen);
        }
        catch (JobRefusedException e)
        {
            throw new PipelineErrorException(new JobOutcome.Refused(e.Rule));
        }
    }

    private async Task<JobOutcome> RunScriptAsync(IInstance instance, JobLogWriter log, TimeSpan hardLimit, TimeSpan silenceLimit, CancellationToken ct)
    {
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(ct, log.LimitReached);
        using var hard = new CancellationTokenSource(hardLimit, _clock);
        log.ResetSilence(); // the silence timer starts at its configured value, now.
        using var silence = new SilenceWatch(log, silenceLimit, _clock);
        using var hardRegistration = hard.Token.Register(() => runCts.Cancel());
        using var silenceRegistration = silence.Token.Register(() => runCts.Cancel());
        try
        {
            var result = await instance.RunScriptAsync(log, runCts.Token);
            if (!ct.IsCancellationRequested && !hard.IsCancellationRequested && !silence.Fired && !log.LimitReached.IsCancellationRequested)
            {
                return result.Completed
                    ? new JobOutcome.Exited(result.ExitCode)
                    : new JobOutcome.Infrastructure("the machine stopped before the script finished");
            }
        }
        catch (OperationCanceledException) when (runCts.IsCancellationRequested)
        {
        }
        catch (JobRefusedException e) when (!runCts.IsCancellationRequested)
        {
            return new JobOutcome.Refused(e.Rule);
        }
        catch (BackendFailureException e) when (!runCts.IsCancellationRequested)
        {
            return JobOutcome.Of(e, duringScript: true);
        }
        catch (Exception e) when (e is not OperationCanceledException && !ct.IsCancellationRequested)
        {
            return new JobOutcome.Infrastructure("running the script failed: " + e.Message);
        }
        finally
        {
            // Whatever the run left waiting on its token ends with it. Cancel, not CancelAsync: the
            // callbacks are cheap, and a hop to the thread pool here is on every job's critical path
            // (it costs most when the host's CPUs are busy).
            runCts.Cancel();
        }
        ct.ThrowIfCancellationRequested();
        if (log.LimitReached.IsCancellationRequested)
        {
            return new JobOutcome.LogTooLong(options.MaxLog);
        }
        if (silence.Fired)
        {
            return new JobOutcome.LogSilence(silenceLimit);
        }
        return new JobOutcome.TimedOut(hardLimit);
    }

    private async Task<T> WithTimeoutAsync<T>(TimeSpan timeout, CancellationToken ct, Func<CancellationToken, Task<T>> action, string what)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            return await action(cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new PipelineErrorException(new JobOutcome.Infrastructure($"{what} took longer than {Durations.Format(timeout)}"));
        }
    }

    private Task WithTimeoutAsync(TimeSpan timeout, CancellationToken ct, Func<CancellationToken, Task> action, string what) =>
        WithTimeoutAsync(timeout, ct, async t => { await action(t); return true; }, what);

    private static JobOutcome Classify(Exception e, JobCancellations.Subscription cancel, CancellationToken stopToken)
    {
        if (cancel.IsCancelled)
        {
            return new JobOutcome.Cancelled(cancel.Reason ?? "");
        }
        if (stopToken.IsCancellationRequested)
        {
            return new JobOutcome.Shutdown();
        }
        return e switch
        {
            PipelineErrorException p => p.Outcome,
            BackendFailureException b => JobOutcome.Of(b),
            InvalidJobPayloadException p => new JobOutcome.Unusable(p.Message),
            // A payload reader's refusal (a Cirrus task for a backend this host runs none on).
            JobRefusedException r => new JobOutcome.Refused(r.Rule),
            _ => new JobOutcome.Infrastructure(e.Message),
        };
    }

    private async Task ReportAsync(Func<Task> report, string what)
    {
        try
        {
            await report();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A lost intermediate state is not worth the job: travis-hub catches up on finish.
            logger.LogWarning(e, "Could not report {State}", what);
        }
    }

    private IBackend BackendFor(JobSpec spec) => spec.Backend switch
    {
        null => backend,
        var name when name == backend.Name => backend,
        var name => backends?.For(name) ?? throw new JobRefusedException($"this worker runs jobs on backend '{backend.Name}' only, not '{name}'"),
    };

    private string WorkerInfo(IInstance instance, IBackend chosen)
    {
        var now = _clock.GetUtcNow().ToString("u", CultureInfo.InvariantCulture);
        return "travis_fold:start:worker_info\r\u001b[0K\u001b[33;1mWorker information\u001b[0m\n" +
               $"hostname: {options.Host}\n" +
               $"version: {WorkerVersion.Text}\n" +
               $"instance: {instance.Id} {instance.ImageName} (via {chosen.Name})\n" +
               $"startup: {now}\n" +
               "travis_fold:end:worker_info\r\u001b[0K\n";
    }

    private static string Describe(Verdict v) => v switch
    {
        { DeadLetter: true } => "dead-letter",
        { Requeue: true } => v.RequeueCounted ? "requeue" : "requeue (not counted)",
        _ => (v.State ?? FinishState.Errored).WireName(),
    };

    private sealed class LogProgress(JobLogWriter log) : IProgress<string>
    {
        public void Report(string value) => _ = WriteAsync(value.EndsWith('\n') ? value : value + "\n");

        private async Task WriteAsync(string line)
        {
            try
            {
                await log.WriteWorkerMessageAsync(line);
            }
            catch (Exception)
            {
                // A progress line is not worth failing a boot for; a broken log surfaces on the next write.
            }
        }
    }
}

/// <summary>A step's failure with the outcome it stands for.</summary>
internal sealed class PipelineErrorException(JobOutcome outcome) : Exception(outcome.ToString())
{
    public JobOutcome Outcome { get; } = outcome;
}
