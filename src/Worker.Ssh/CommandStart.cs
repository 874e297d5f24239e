using Renci.SshNet;

namespace Worker.Ssh;

/// <summary>
/// An SSH command started off the caller's thread. SSH.NET opens a command's channel and sends its
/// exec request synchronously, which on a host that stopped answering blocks for the session's whole
/// operation timeout, out of reach of the caller's token. A caller that gives up hands the command
/// over with <see cref="Abandon"/>: once the start is over, whenever that is, the command is killed
/// and disposed, so a request that reaches the host late does not leave its command running.
/// </summary>
internal sealed class CommandStart
{
    private readonly SshCommand _command;
    private readonly Task<Task> _started;

    private CommandStart(SshCommand command)
    {
        _command = command;
        _started = Task.Factory.StartNew(() => command.ExecuteAsync(CancellationToken.None), CancellationToken.None,
            TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        Execution = _started.Unwrap();
    }

    public static CommandStart Begin(SshCommand command) => new(command);

    /// <summary>Completes when the command ends; faults when it can't start or its connection fails.</summary>
    public Task Execution { get; }

    /// <summary>Completes once the command's channel is open and its request sent (its input may then be written); faults when that fails.</summary>
    public Task Opened => _started;

    /// <summary>Whether the command's channel is open and its request sent, so it may have output to come.</summary>
    public bool Started => _started.IsCompletedSuccessfully;

    /// <summary>
    /// Leaves the command to <paramref name="kill"/> (which must not throw) and disposal, once its
    /// start is over. When its processes were just ended another way, <paramref name="grace"/> lets
    /// its channel close by itself first: a signal sent as the channel closes reaches a server that
    /// has freed it, and OpenSSH answers a request for a freed channel by dropping the whole connection.
    /// </summary>
    public void Abandon(Action<SshCommand> kill, TimeSpan grace = default)
    {
        SshConnector.Abandon(Execution);
        SshConnector.Abandon(_started.ContinueWith(async _ =>
        {
            if (grace > TimeSpan.Zero)
            {
                await Task.WhenAny(Execution, Task.Delay(grace, CancellationToken.None));
            }
            if (!Execution.IsCompleted)
            {
                kill(_command);
            }
            _command.Dispose();
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap());
    }
}
