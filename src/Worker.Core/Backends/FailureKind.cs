namespace Worker.Core.Backends;

/// <summary>
/// Whose fault a backend's failure is, decided where it happens. <see cref="Jobs.OutcomePolicy"/>
/// alone turns the kind into a requeue, a pause of this host's intake, or an error of the job.
/// </summary>
public enum FailureKind
{
    /// <summary>
    /// This host can't run any job now: its Docker engine is unreachable, the cloud API refuses its
    /// credentials, a CLI it needs is missing, its build root is unwritable or full. The job goes
    /// back to the queue without counting against it, and the host stops taking jobs until its
    /// backend answers a probe again.
    /// </summary>
    Host,

    /// <summary>The job asked for something that can't be had anywhere (a bad spec); another try won't help, so it is errored.</summary>
    Job,

    /// <summary>
    /// The backend is full for now (a zone out of machines, a rate limit), or a service it needs for
    /// the job does not answer (the image selector); the job is requeued, counted.
    /// </summary>
    Capacity,
}
