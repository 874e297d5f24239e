using Worker.Cirrus.Session;

namespace Worker.Cirrus.Tasks;

/// <summary>
/// Runs one admitted task until its machine is gone (<c>worker cirrus run</c>: as a job of the
/// pipeline; the bridge: on the fleet). The runner calls <see cref="CirrusTaskReport.StartedAsync"/>
/// (the pipeline's: before the machine is made; the bridge's: when a host started the job) and <see cref="CirrusTaskReport.FailedAsync"/> when the machine or the agent
/// fails; the session sends <c>TaskStopped</c> after this returns or throws (the runner may send it
/// first), and only then stops counting the task. <paramref name="ct"/> fires when the worker stops
/// for good; when Cirrus asks to stop the task, its <see cref="TaskLedger.RunningTask.StopRequested"/> fires.
/// </summary>
public interface ICirrusTaskRunner
{
    Task RunAsync(CirrusTask task, CirrusTaskReport report, CancellationToken ct);
}
