namespace Worker.Core.Backends;

/// <summary>
/// A backend's failure in start, upload or run, classified by the backend (see <see cref="FailureKind"/>).
/// The message names the thing that failed and, where there is one, the setting that points at it.
/// A policy refusal is a <see cref="Jobs.JobRefusedException"/> instead.
/// </summary>
public class BackendFailureException(FailureKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public FailureKind Kind { get; } = kind;

    public static BackendFailureException Host(string message, Exception? inner = null) => new(FailureKind.Host, message, inner);

    public static BackendFailureException Job(string message, Exception? inner = null) => new(FailureKind.Job, message, inner);

    public static BackendFailureException Capacity(string message, Exception? inner = null) => new(FailureKind.Capacity, message, inner);
}
