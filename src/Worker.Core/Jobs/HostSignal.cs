namespace Worker.Core.Jobs;

/// <summary>What a job's outcome says about this host's backend; the host's circuit breaker counts these.</summary>
public enum HostSignal
{
    /// <summary>Nothing either way (the job was refused, cancelled, its script could not be made...).</summary>
    None,

    /// <summary>A machine ran the job's script: the backend works.</summary>
    Working,

    /// <summary>A host-level failure: this host could not run the job, nor any other now.</summary>
    Broken,
}
