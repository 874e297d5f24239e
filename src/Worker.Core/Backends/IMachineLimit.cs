namespace Worker.Core.Backends;

/// <summary>
/// A backend whose jobs run on a fixed set of machines, one job each (existing hosts over SSH). A
/// processor beyond their number would take a job from the queue only to wait for a machine, so
/// the worker runs no more processors than this.
/// </summary>
public interface IMachineLimit
{
    /// <summary>How many jobs can run at once.</summary>
    int MaxConcurrentJobs { get; }

    /// <summary>Where the limit comes from, for the start-up line (e.g. "the 2 host(s) of WORKER_SSH_HOSTS, which run one job each").</summary>
    string MachineLimitReason { get; }
}
