using Worker.Core.Configuration;
using Worker.Core.Registration;

namespace Worker.JobBoard;

/// <summary>travis's job-board as a job source (<c>WORKER_QUEUE_TYPE=http</c>), travis-worker's http queue.</summary>
public static class JobBoardRegistration
{
    public static JobSourceRegistration Source { get; } = new()
    {
        Name = "http",
        Summary = "http (travis's job-board at WORKER_JOB_BOARD_URL)",
        SettingsTitle = "job-board transport (WORKER_QUEUE_TYPE=http; WORKER_TRAVIS_SITE is required with it)",
        Settings = JobBoardOptions.All,
        CreateQueue = CreateQueue,
        CheckSettings = settings => JobBoardOptions.Load(settings, WorkerOptions.Load(settings), ""),
    };

    public static JobBoardQueue CreateQueue(WorkerServices services) =>
        new(JobBoardOptions.Load(services.Settings, services.Options, services.BackendName), services.Cancellations, services.Loggers);
}
