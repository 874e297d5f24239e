using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>How <c>worker submit</c> puts a job on a job source and, when asked, follows it to its end.</summary>
public interface IJobSubmitter
{
    /// <summary>
    /// Puts <paramref name="payload"/> on the queue and says where on <paramref name="status"/>. With
    /// <paramref name="follow"/>, prints the job's log to <paramref name="output"/> as it grows and its
    /// state changes to <paramref name="status"/>, and returns its finish state; null without follow,
    /// or when the finish could not be seen.
    /// </summary>
    Task<FinishState?> SubmitAsync(JobPayload payload, bool follow, TextWriter output, TextWriter status, CancellationToken ct);
}
