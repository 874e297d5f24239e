namespace Worker.Ssh;

/// <summary>
/// How a script run over SSH ended: the script exited with a status, or the connection went away
/// before the machine reported one (a dropped network, a killed sshd, a machine that died). Only the
/// first is the script's doing; the second is the machine's and the job is run again elsewhere.
/// </summary>
public sealed record SshRunResult
{
    private SshRunResult(int? exitCode, string? lostReason)
    {
        ExitCode = exitCode;
        LostReason = lostReason;
    }

    /// <summary>The script's exit status, or null when the connection was lost.</summary>
    public int? ExitCode { get; }

    /// <summary>Why no exit status came back, or null when the script exited.</summary>
    public string? LostReason { get; }

    public bool ConnectionLost => ExitCode is null;

    public static SshRunResult Exited(int code) => new(code, null);

    public static SshRunResult Lost(string reason) => new(null, reason);

    public override string ToString() => ExitCode is { } code ? $"exited {code}" : $"lost: {LostReason}";
}
