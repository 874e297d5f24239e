using System.Diagnostics;
using System.Text;

namespace Worker.TestSupport;

/// <summary>
/// The real `worker` executable (built next to the test assembly), started as a child process with
/// its own environment: no WORKER_ or TRAVIS_WORKER_ variable of the test run leaks in.
/// </summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private WorkerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_stdout) { _stdout.AppendLine(e.Data); } } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (_stderr) { _stderr.AppendLine(e.Data); } } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string WorkerDll => Path.Combine(AppContext.BaseDirectory, "worker.dll");

    public string Stdout { get { lock (_stdout) { return _stdout.ToString(); } } }
    public string Stderr { get { lock (_stderr) { return _stderr.ToString(); } } }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static WorkerProcess Start(IReadOnlyDictionary<string, string> env, string workingDirectory, params string[] args) =>
        StartUnderHostName(null, env, workingDirectory, args);

    /// <summary>
    /// With <paramref name="hostName"/>, the worker runs in a UTS namespace of its own (unshare, as root)
    /// under that host name; the namespace and the shell exec into it, so its id stays the worker's.
    /// </summary>
    public static WorkerProcess StartUnderHostName(string? hostName, IReadOnlyDictionary<string, string> env, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(hostName is null ? "dotnet" : "unshare")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory,
        };
        if (hostName is not null)
        {
            foreach (var a in new[] { "--uts", "sh", "-c", "hostname \"$0\" && exec dotnet \"$@\"", hostName })
            {
                start.ArgumentList.Add(a);
            }
        }
        start.ArgumentList.Add(WorkerDll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("WORKER_", StringComparison.Ordinal) || k.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        foreach (var (key, value) in env)
        {
            start.Environment[key] = value;
        }
        return new WorkerProcess(Process.Start(start)!);
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)> RunAsync(
        IReadOnlyDictionary<string, string> env, string workingDirectory, params string[] args)
    {
        var sw = Stopwatch.StartNew();
        await using var worker = Start(env, workingDirectory, args);
        var exit = await worker.WaitAsync(TimeSpan.FromMinutes(2));
        return (exit, worker.Stdout, worker.Stderr, sw.Elapsed);
    }

    /// <summary>Waits until <paramref name="condition"/> holds; gives up at once when the worker exits first, and shows what it said.</summary>
    public Task UntilAsync(Func<bool> condition, string what, TimeSpan? patience = null) =>
        Eventually.TrueAsync(condition, what, patience, gaveUp: () => HasExited, explain: () => Stderr);

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"the worker still runs after {timeout}; it printed:\n{Stdout}\n{Stderr}");
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGKILL to the whole tree: no drain, no goodbye; a broker sees the connection drop.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
