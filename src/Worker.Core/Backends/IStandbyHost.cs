namespace Worker.Core.Backends;

/// <summary>
/// A backend that can keep a machine booted ahead of the job that will ask for exactly it (the VM
/// backends): a caller such as the Cirrus bridge says what that machine is, and sees what is ready.
/// </summary>
public interface IStandbyHost
{
    /// <summary>
    /// Keeps one machine made for <paramref name="request"/> booted from now on (its warm-up run in
    /// it before it is offered), in place of the operator's standbys; null: back to the operator's.
    /// A machine the backend's policy refuses is not kept (the refusal is thrown).
    /// </summary>
    /// <exception cref="Worker.Core.Jobs.JobRefusedException">The backend's policy refuses such a machine.</exception>
    void KeepStandby(StandbyRequest? request);

    /// <summary>The standby machines booted and not yet taken, with when each was ready.</summary>
    IReadOnlyList<(string Name, DateTimeOffset ReadyAt)> ReadyStandbys { get; }
}
