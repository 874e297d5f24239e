using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Queues;

namespace Worker.Core.Pipeline;

/// <summary>Takes one job at a time from the queue and runs it through the pipeline.</summary>
internal sealed class Processor
{
    private readonly CancellationTokenSource _leave = new();

    public Processor(string id, IJobQueue queue, JobPipeline pipeline, CancellationToken stopToken, ILogger logger)
    {
        Status = new ProcessorStatus(id);
        Completion = Task.Run(() => RunAsync(queue, pipeline, stopToken, logger));
    }

    public ProcessorStatus Status { get; }
    public Task Completion { get; }
    public bool Leaving => _leave.IsCancellationRequested;

    /// <summary>Take no further job; the current one runs to its end.</summary>
    public void Leave() => _leave.Cancel();

    private async Task RunAsync(IJobQueue queue, JobPipeline pipeline, CancellationToken stopToken, ILogger logger)
    {
        using var receive = CancellationTokenSource.CreateLinkedTokenSource(_leave.Token, stopToken);
        var breaker = pipeline.Breaker;
        while (!receive.IsCancellationRequested)
        {
            // Ending the receive when the host stops taking jobs cancels its AMQP consumer, so the broker hands jobs to other hosts.
            using var intake = CancellationTokenSource.CreateLinkedTokenSource(receive.Token, breaker?.IntakeStopped ?? CancellationToken.None);
            try
            {
                if (breaker is not null && !breaker.TakingJobs)
                {
                    Status.Pause(JobSteps.Paused);
                    await breaker.WaitUntilTakingJobsAsync(receive.Token);
                    Status.Pause(JobSteps.Idle);
                    continue; // with the intake token of the resumed host
                }
                await foreach (var job in queue.ReceiveAsync(intake.Token))
                {
                    await RunToItsEndAsync(pipeline, job, stopToken);
                    Status.Idle();
                    if (intake.IsCancellationRequested)
                    {
                        break;
                    }
                }
                if (!intake.IsCancellationRequested || receive.IsCancellationRequested)
                {
                    return; // the queue has no more jobs, or this processor is leaving
                }
            }
            catch (OperationCanceledException) when (intake.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is not InvalidSettingException)
            {
                // A queue failure must not end the processor: wait and take jobs again. It holds no
                // job here: each one it took was settled before it asked for the next.
                logger.LogError(e, "{Processor}: receiving jobs failed; retrying", Status.Id);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), receive.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    /// <summary>The pipeline reports every job it runs; should it ever throw instead, the job is still settled here.</summary>
    private async Task RunToItsEndAsync(JobPipeline pipeline, IJob job, CancellationToken stopToken)
    {
        try
        {
            await pipeline.RunAsync(job, Status, stopToken);
        }
        catch (Exception e)
        {
            await pipeline.SettleAbandonedAsync(job, e);
        }
    }
}
