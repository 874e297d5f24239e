using System.Diagnostics;
using Worker.Core.Logs;

namespace Worker.Core.Backends.Local;

/// <summary>A job's working directory on this host and the script process running in it.</summary>
public sealed class LocalInstance : IInstance
{
    private const string ScriptName = "build.sh";
    private readonly string _dir;
    private readonly string? _user;
    private readonly Func<Exception, BackendFailureException> _unwritable;
    private readonly JobCgroup? _cgroup;
    private readonly bool _inheritEnvironment;
    private readonly TimeSpan _interruptGrace;
    private int _sessionId;

    /// <param name="unwritable">What a failed write into the build root means (the backend names the root and the setting).</param>
    /// <param name="cgroup">The job's own cgroup, which the script joins before it starts; null: the session alone holds it.</param>
    /// <param name="inheritEnvironment">Run the script with the worker's environment, less its settings (see <see cref="StartAttributes.InheritEnvironment"/>).</param>
    /// <param name="interruptGrace">On cancel, SIGINT first and SIGKILL this long after (see <see cref="StartAttributes.InterruptGrace"/>).</param>
    public LocalInstance(string id, string dir, string? user, Func<Exception, BackendFailureException> unwritable, JobCgroup? cgroup = null,
        bool inheritEnvironment = false, TimeSpan interruptGrace = default)
    {
        Id = id;
        _dir = dir;
        _user = user;
        _unwritable = unwritable;
        _cgroup = cgroup;
        _inheritEnvironment = inheritEnvironment;
        _interruptGrace = interruptGrace;
    }

    /// <summary>
    /// Joins the cgroup.procs files given before "--", then becomes the rest of the command line:
    /// the pid that joins is the script's, so nothing it starts is ever outside the job's cgroup.
    /// </summary>
    private const string JoinCgroup = "while [ \"$1\" != -- ]; do echo $$ > \"$1\" || exit 125; shift; done; shift; exec \"$@\"";

    /// <summary>How long the script's output may stay open after it ended and everything of it was killed.</summary>
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(10);

    public string Id { get; }
    public string ImageName => "local";
    public string WorkingDirectory => _dir;

    /// <summary>The session the script runs in (its pid), or 0 before it started.</summary>
    public int SessionId => Volatile.Read(ref _sessionId);

    public async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        var path = Path.Combine(_dir, ScriptName);
        try
        {
            await File.WriteAllTextAsync(path, script, ct);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw _unwritable(e);
        }
        if (_user is not null)
        {
            await RunQuietlyAsync("chown", ["-R", _user, _dir], ct);
        }
    }

    public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
    {
        var start = new ProcessStartInfo(_cgroup is null ? "setsid" : "sh")
        {
            WorkingDirectory = _dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (_cgroup is not null)
        {
            foreach (var a in (string[])["-c", JoinCgroup, "worker-join-cgroup", .. _cgroup.ProcsFiles, "--", "setsid"])
            {
                start.ArgumentList.Add(a);
            }
        }
        // setsid makes the script a session leader; runuser (when configured) drops to the job user,
        // keeping the clean environment below (-p), else it would reset HOME to the user's own home.
        if (_user is not null)
        {
            foreach (var a in new[] { "runuser", "-p", "-u", _user, "--" })
            {
                start.ArgumentList.Add(a);
            }
        }
        foreach (var a in new[] { "bash", "-c", "exec bash ./" + ScriptName + " 2>&1" })
        {
            start.ArgumentList.Add(a);
        }
        if (_inheritEnvironment)
        {
            // The worker's own settings (broker URIs, tokens) still never reach a job.
            foreach (var key in start.Environment.Keys.Where(IsWorkerSetting).ToList())
            {
                start.Environment.Remove(key);
            }
        }
        else
        {
            // A clean environment: the worker's own settings (broker URIs, tokens) never reach a job.
            start.Environment.Clear();
            start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
            start.Environment["HOME"] = _dir;
            start.Environment["LANG"] = "C.UTF-8";
            start.Environment["TERM"] = "xterm";
            start.Environment["USER"] = _user ?? Environment.UserName;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        Volatile.Write(ref _sessionId, process.Id);
        process.StandardInput.Close();
        using var kill = ct.Register(() => StopSession(process.Id));
        var output = new LogWriterStream(log);
        using var outputOpen = new CancellationTokenSource();
        var stdout = CopyOrKillAsync(process.StandardOutput.BaseStream, output, process.Id, outputOpen.Token);
        var stderr = CopyOrKillAsync(process.StandardError.BaseStream, output, process.Id, outputOpen.Token);
        try
        {
            await process.WaitForExitAsync(CancellationToken.None);
        }
        finally
        {
            // Whatever the script left running in the background dies with it.
            KillEverything(process.Id);
        }
        // A process that escaped the kill (its own session, no cgroup here) would hold the output
        // open for as long as it lives: the job ends without what it writes.
        outputOpen.CancelAfter(OutputGrace);
        try
        {
            await Task.WhenAll(stdout, stderr);
        }
        catch (OperationCanceledException) when (outputOpen.IsCancellationRequested)
        {
            await log.WriteAsync("\nA process the script started outlived it and still holds its output; the job ends without it.\n", CancellationToken.None);
        }
        ct.ThrowIfCancellationRequested();
        return RunResult.Exited(process.ExitCode);
    }

    private void StopSession(int sessionId)
    {
        if (_interruptGrace <= TimeSpan.Zero)
        {
            KillEverything(sessionId);
            return;
        }
        ProcessSession.InterruptSession(sessionId);
        _ = Task.Delay(_interruptGrace).ContinueWith(_ => KillEverything(sessionId), TaskScheduler.Default);
    }

    /// <summary>
    /// Copies the script's output into the log; when the log can't take it (its disk is full, its
    /// transport broken) the script is killed and the failure thrown: left writing into a pipe no
    /// one reads, it would block until its timeout.
    /// </summary>
    private async Task CopyOrKillAsync(Stream from, Stream into, int processId, CancellationToken ct)
    {
        try
        {
            await from.CopyToAsync(into, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            KillEverything(processId);
            throw;
        }
    }

    public async Task StopAsync(CancellationToken ct)
    {
        if (SessionId != 0)
        {
            KillEverything(SessionId);
        }
        if (_cgroup is not null)
        {
            await _cgroup.RemoveAsync(TimeSpan.FromSeconds(30));
        }
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private void KillEverything(int sessionId)
    {
        ProcessSession.KillSession(sessionId);
        _cgroup?.Kill();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static bool IsWorkerSetting(string key) =>
        key.StartsWith("WORKER_", StringComparison.Ordinal) || key.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal);

    private static async Task RunQuietlyAsync(string file, string[] args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var error = await process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {error.Trim()}");
        }
    }
}
