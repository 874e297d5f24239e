namespace Worker.Ssh;

/// <summary>An upload that must create its file found one already there, written before this upload began.</summary>
public sealed class RemoteFileExistsException(SshEndpoint endpoint, string path)
    : Exception($"{endpoint} already has {path}")
{
    public SshEndpoint Endpoint { get; } = endpoint;
    public string Path { get; } = path;
}
