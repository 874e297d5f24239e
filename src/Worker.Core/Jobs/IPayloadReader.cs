namespace Worker.Core.Jobs;

/// <summary>
/// Recognises a queued payload that carries more than a travis job (fleet mode's Cirrus task) and
/// reads the spec it stands for. The pipeline asks its readers before it runs a job with a payload;
/// a payload none of them knows runs as the travis job it is.
/// </summary>
public interface IPayloadReader
{
    /// <summary>The spec, or null when the payload is not of this reader's kind.</summary>
    /// <exception cref="InvalidJobPayloadException">It is of this kind but can't be used (the job is dead-lettered).</exception>
    JobSpec? Read(JobPayload payload);
}
