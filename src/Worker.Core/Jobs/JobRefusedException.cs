namespace Worker.Core.Jobs;

/// <summary>
/// Thrown by a backend when the operator's policy refuses the job, or the job asks for what can't
/// run anywhere (an image that can't be pulled, or has no shell for the script): the job errors
/// with the reason and is not requeued. What the backend made for it is removed as usual.
/// </summary>
public sealed class JobRefusedException(string rule) : Exception(rule)
{
    public string Rule { get; } = rule;
}
