using Worker.Cirrus.Session;

namespace Worker.Cirrus.Tasks;

/// <summary>
/// Runs one admitted task until its machine is gone: the seam where the job pipeline comes in
/// (each task becomes an IJob whose isolation picks the backend; see src/Worker.Cirrus/README.md).
/// The runner calls <see cref="CirrusTaskReport.StartedAsync"/> when the agent starts and
/// <see cref="CirrusTaskReport.FailedAsync"/> when the machine or the agent fails; the session
/// sends <c>TaskStopped</c> after this returns or throws, and only then stops counting the task.
/// <paramref name="ct"/> fires when Cirrus asks to stop the task or the worker stops for good.
/// </summary>
public interface ICirrusTaskRunner
{
    Task RunAsync(CirrusTask task, CirrusTaskReport report, CancellationToken ct);
}
