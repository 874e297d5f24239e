namespace Worker.Core.Jobs;

/// <summary>Thrown by a backend before it creates anything, when the operator's policy refuses the job.</summary>
public sealed class JobRefusedException(string rule) : Exception(rule)
{
    public string Rule { get; } = rule;
}
