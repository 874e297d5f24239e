namespace Worker.Ssh;

/// <summary>A short command's exit status (null if the server sent none) and what it printed.</summary>
public sealed record SshCommandResult(int? ExitCode, string Output, string Error);
