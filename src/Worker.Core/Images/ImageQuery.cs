using Worker.Core.Backends;

namespace Worker.Core.Images;

/// <summary>
/// What an image selector is asked about a job that names no image: the attributes travis-worker
/// chose images by (a null one is not asked about), the infrastructure asking (job-board keeps images
/// per infra) and which job and repository it is for.
/// </summary>
public sealed record ImageQuery(string Infra, long JobId)
{
    public string? Repository { get; init; }
    public string? Language { get; init; }
    public string? Dist { get; init; }
    public string? Group { get; init; }
    public string? Os { get; init; }

    /// <summary>travis-worker's <c>gpu_vm_type</c>: empty for a job on no GPU machine.</summary>
    public string GpuVmType { get; init; } = "";

    /// <summary>Every attribute of <paramref name="job"/> that chooses an image.</summary>
    public static ImageQuery For(StartAttributes job, string infra) => new(infra, job.JobId)
    {
        Repository = job.RepositorySlug,
        Language = job.Language,
        Dist = job.Dist,
        Group = job.Group,
        Os = job.Os,
    };
}
