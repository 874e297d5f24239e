using System.Collections.Concurrent;
using System.Diagnostics;

namespace Worker.Vm;

/// <summary>
/// A VM's <c>run</c> process. It lives exactly as long as the VM: it blocks while the VM runs, and
/// the VM stops when it is killed. Its last lines of output are kept to say why it ended.
/// </summary>
public sealed class VmRunProcess : IDisposable
{
    private const int KeptLines = 20;

    /// <summary>How long an exit waits for the process's last output, which a child of run (softnet) may hold open.</summary>
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(1);

    private readonly string _tool;
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lastLines = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _exitedToken = new();
    private readonly TaskCompletionSource _outputEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal VmRunProcess(string tool, Process process)
    {
        _tool = tool;
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data, _outputEnded);
        process.ErrorDataReceived += (_, e) => Keep(e.Data, _errorEnded);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // Not WaitForExitAsync: that also waits for the output to end, which a child of run (softnet) may hold open.
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => _ = OnExitedAsync();
        if (process.HasExited)
        {
            _ = OnExitedAsync();
        }
    }

    /// <summary>Completes with the exit code when the process has exited (and its last words are read).</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Fires when the process has exited: the VM is gone.</summary>
    public CancellationToken ExitedToken => _exitedToken.Token;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>How it ended, for a log line: <c>tart run exited with code 1: the VM crashed</c>.</summary>
    public string Describe()
    {
        var code = _exited.Task.IsCompletedSuccessfully ? _exited.Task.Result.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
        var said = _lastLines.LastOrDefault(l => l.Trim().Length > 0)?.Trim();
        return said is null ? $"{_tool} run exited with code {code}" : $"{_tool} run exited with code {code}: {said}";
    }

    /// <summary>Kills the process and what it started, and waits (up to <paramref name="patience"/>) until it is gone.</summary>
    public async Task KillAsync(TimeSpan patience)
    {
        if (HasExited)
        {
            return;
        }
        VmCli.Kill(_process);
        await Task.WhenAny(Exited, Task.Delay(patience));
    }

    public void Dispose()
    {
        VmCli.Kill(_process);
        _process.Dispose();
    }

    private async Task OnExitedAsync()
    {
        // The exit is seen before the pipes are drained: the line saying why would be missed.
        await Task.WhenAny(Task.WhenAll(_outputEnded.Task, _errorEnded.Task), Task.Delay(OutputGrace));
        int code;
        try
        {
            code = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            code = -1;
        }
        if (_exited.TrySetResult(code))
        {
            _exitedToken.Cancel();
        }
    }

    private void Keep(string? line, TaskCompletionSource ended)
    {
        if (line is null)
        {
            ended.TrySetResult();
            return;
        }
        _lastLines.Enqueue(line);
        while (_lastLines.Count > KeptLines && _lastLines.TryDequeue(out _))
        {
        }
    }
}
