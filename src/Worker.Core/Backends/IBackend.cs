using Worker.Core.Logs;

namespace Worker.Core.Backends;

/// <summary>Boots one fresh, isolated machine per job.</summary>
public interface IBackend
{
    string Name { get; }

    /// <summary>
    /// Creates and starts a machine. Checks the operator's policy before anything exists and throws
    /// <see cref="Jobs.JobRefusedException"/> when it refuses. A machine whose start fails after it
    /// was created is deleted before this throws. Progress lines go into the job's log.
    /// </summary>
    Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct);
}

/// <summary>One job's machine.</summary>
public interface IInstance : IAsyncDisposable
{
    string Id { get; }

    string ImageName { get; }

    Task UploadScriptAsync(string script, CancellationToken ct);

    /// <summary>
    /// Runs the uploaded script with its output streamed into <paramref name="log"/>. When
    /// <paramref name="ct"/> fires, the script and everything it started is killed at once and this
    /// throws <see cref="OperationCanceledException"/>. <c>Completed=false</c> means the machine or
    /// the connection to it failed, not the script.
    /// </summary>
    Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct);

    /// <summary>Stops and deletes the machine. Called once, on its own token, on every path.</summary>
    Task StopAsync(CancellationToken ct);
}

public readonly record struct RunResult(int ExitCode, bool Completed)
{
    public static RunResult Exited(int code) => new(code, true);

    public static RunResult Incomplete => new(-1, false);
}
