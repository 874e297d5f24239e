namespace Worker.Ssh;

/// <summary>How an SFTP upload is retried, and whether it may replace a file already there.</summary>
public sealed record SshUploadOptions
{
    public static SshUploadOptions Once { get; } = new();

    /// <summary>Attempts, each over a fresh SFTP session; the last one's failure is thrown.</summary>
    public int Attempts { get; init; } = 1;

    public TimeSpan RetryPause { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Refuse with <see cref="RemoteFileExistsException"/> when the file is there before our first
    /// write: a machine that already holds a script ran another job. A retry after our own broken
    /// write overwrites it.
    /// </summary>
    public bool RefuseExisting { get; init; }
}
