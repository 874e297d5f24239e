namespace Worker.Docker;

/// <summary>What a job's container will be, after the policy has accepted the job's requests.</summary>
/// <param name="User">Who the container runs as; null: the image's own user.</param>
public sealed record ContainerSpec(string Image, double Cpus, long Memory, IReadOnlyList<VolumeRequest> Volumes, bool Privileged, string? User = null)
{
    /// <summary>Whether a standby container (default image, default limits, nothing mounted, privileged only when every container is) can serve it.</summary>
    public bool IsStandbyShaped(ContainerSpec standby) =>
        Image == standby.Image && Cpus.Equals(standby.Cpus) && Memory == standby.Memory && Volumes.Count == 0 && Privileged == standby.Privileged && User == standby.User;
}
