using Microsoft.Extensions.Logging;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Security;
using Worker.Cirrus.Session;
using Worker.Cirrus.Tasks;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;

namespace Worker.Cirrus.Jobs;

/// <summary>
/// Runs each task <c>worker cirrus run</c> takes as a job of the job pipeline, on the backend its
/// isolation picks. The ledger admits tasks, so each runs at once on its own: there is no processor
/// to wait for while Cirrus counts the task as running. Cirrus hears <c>TaskStarted</c> as the task
/// is taken, before its agent is had or its machine made, as cirrus-cli sends it before
/// <c>inst.Run</c>: a machine that fails to boot reaches Cirrus as a started task that failed.
/// </summary>
public sealed class PipelineTaskRunner(JobPipeline pipeline, JobCancellations cancellations, AgentBinaries agents, SecurityPolicy security, ILogger logger)
    : ICirrusTaskRunner
{
    public async Task RunAsync(CirrusTask task, CirrusTaskReport report, CancellationToken ct)
    {
        var job = new CirrusJob(CirrusJobSpec.Of(CirrusJobOrder.Of(task, security), agents), report, task.Held, cancellations, logger);
        await report.StartedAsync(ct);
        await pipeline.RunAsync(job, new ProcessorStatus("task-" + task.Id), ct);
    }
}
