namespace Worker.Docker;

/// <summary>What a job's container will be, after the policy has accepted the job's requests.</summary>
public sealed record ContainerSpec(string Image, double Cpus, long Memory, IReadOnlyList<VolumeRequest> Volumes, bool Privileged)
{
    /// <summary>Whether a standby container (default image, default limits, nothing mounted, privileged only when every container is) can serve it.</summary>
    public bool IsStandbyShaped(ContainerSpec standby) =>
        Image == standby.Image && Cpus.Equals(standby.Cpus) && Memory == standby.Memory && Volumes.Count == 0 && Privileged == standby.Privileged;
}
