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
    private int _sessionId;

    /// <param name="unwritable">What a failed write into the build root means (the backend names the root and the setting).</param>
    public LocalInstance(string id, string dir, string? user, Func<Exception, BackendFailureException> unwritable)
    {
        Id = id;
        _dir = dir;
        _user = user;
        _unwritable = unwritable;
    }

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
        var start = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = _dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
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
        // A clean environment: the worker's own settings (broker URIs, tokens) never reach a job.
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        start.Environment["HOME"] = _dir;
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["TERM"] = "xterm";
        start.Environment["USER"] = _user ?? Environment.UserName;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start setsid");
        Volatile.Write(ref _sessionId, process.Id);
        process.StandardInput.Close();
        using var kill = ct.Register(() => ProcessSession.KillSession(process.Id));
        var output = new LogWriterStream(log);
        var stdout = process.StandardOutput.BaseStream.CopyToAsync(output, CancellationToken.None);
        var stderr = process.StandardError.BaseStream.CopyToAsync(output, CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(CancellationToken.None);
        }
        finally
        {
            // Whatever the script left running in the background dies with it.
            ProcessSession.KillSession(process.Id);
        }
        await Task.WhenAll(stdout, stderr);
        ct.ThrowIfCancellationRequested();
        return RunResult.Exited(process.ExitCode);
    }

    public Task StopAsync(CancellationToken ct)
    {
        if (SessionId != 0)
        {
            ProcessSession.KillSession(SessionId);
        }
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

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
