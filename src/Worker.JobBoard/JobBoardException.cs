namespace Worker.JobBoard;

/// <summary>A request to job-board, or to a URL it handed out, failed: refused, or not answered within the time it had. The message says how.</summary>
public sealed class JobBoardException(string message, Exception? inner = null) : Exception(message, inner);
