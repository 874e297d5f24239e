using Worker.Core.Logs;

namespace Worker.Core.Backends;

/// <summary>
/// Boots one fresh, isolated machine per job. Disposed once, after the last job's machine was
/// stopped: it lets go of what it holds for all jobs (API clients, idle standby machines).
/// </summary>
public interface IBackend : IAsyncDisposable
{
    string Name { get; }

    /// <summary>
    /// Creates and starts a machine. Checks the operator's policy before anything exists and throws
    /// <see cref="Jobs.JobRefusedException"/> when it refuses. A machine whose start fails after it
    /// was created is deleted before this throws. Progress lines go into the job's log. A failure
    /// that is not the job's (the engine or API is unreachable, the credentials are refused) is a
    /// <see cref="BackendFailureException"/> of kind <see cref="FailureKind.Host"/>, and so in upload and run.
    /// </summary>
    Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct);

    /// <summary>
    /// Values the backend puts into every machine that a job's log must not show (a proxy's
    /// password in the machine's environment): masked as the payload's secure variables are.
    /// </summary>
    IReadOnlyList<string> MachineSecrets => [];

    /// <summary>What <see cref="ProbeAsync"/> checks, for the log of a host that stopped taking jobs (e.g. "a ping of the Docker engine at unix:///var/run/docker.sock").</summary>
    string ProbeDescription { get; }

    /// <summary>
    /// A cheap check that this host can reach what its machines need, made while the host takes no
    /// jobs after host failures; intake resumes when it returns. Throws, naming what is broken, when
    /// it is still broken.
    /// </summary>
    Task ProbeAsync(CancellationToken ct);
}

/// <summary>One job's machine.</summary>
public interface IInstance : IAsyncDisposable
{
    string Id { get; }

    string ImageName { get; }

    /// <summary>
    /// The OS the machine's guest runs, in Go's names (<c>linux</c>, <c>darwin</c>), when the backend
    /// asked the machine itself (a Tart VM: <c>tart get</c>); null when it did not.
    /// </summary>
    string? GuestOs => null;

    Task UploadScriptAsync(string script, CancellationToken ct);

    /// <summary>
    /// Copies <paramref name="content"/> to <paramref name="path"/> (absolute, its directories made)
    /// inside the machine with <paramref name="mode"/>, before the script runs: what a job's script
    /// needs beside it (the Cirrus agent). A backend whose machines take no files refuses.
    /// </summary>
    Task UploadFileAsync(string path, Stream content, UnixFileMode mode, CancellationToken ct) =>
        throw new NotSupportedException($"machines of this backend ({GetType().Name}) can't take files");

    /// <summary>
    /// Runs the uploaded script with its output streamed into <paramref name="log"/>. When
    /// <paramref name="ct"/> fires, the script and everything it started is killed at once and this
    /// throws <see cref="OperationCanceledException"/>. <c>Completed=false</c> means the machine or
    /// the connection to it failed, not the script. Throws <see cref="Jobs.JobRefusedException"/> when
    /// the machine can't run a script at all for a reason of the job's own (its image has no shell).
    /// </summary>
    Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct);

    /// <summary>
    /// Stops and deletes the machine. Called once, on its own token, on every path. Nothing uses a
    /// machine after its script, so a backend may start deleting it as soon as the script has ended;
    /// this then waits for that deletion.
    /// </summary>
    Task StopAsync(CancellationToken ct);
}

public readonly record struct RunResult(int ExitCode, bool Completed)
{
    public static RunResult Exited(int code) => new(code, true);

    public static RunResult Incomplete => new(-1, false);
}
