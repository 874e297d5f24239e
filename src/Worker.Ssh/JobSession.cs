namespace Worker.Ssh;

/// <summary>
/// The shell commands that run a job's script in sessions of its own on the machine, and that kill
/// what it started. Each session leader writes its id to <c>SCRIPT.sessions</c> beside the script;
/// when the script ends, its session's leftovers are killed before the exit status goes back (a
/// background process holding the output open would otherwise keep the channel, and the job, open),
/// and on cancel every process of those sessions is killed from a second channel. The outer
/// command runs <c>sh</c> at once, so the login shell may be anything (bash, zsh, fish).
/// </summary>
internal static class JobSession
{
    // procps/BSD pgrep lists the session; the wrapper itself ($$) survives to report the status.
    private const string KillLeftovers = "kill -KILL $(pgrep -s $$ 2>/dev/null | grep -vx $$) 2>/dev/null";

    public static string RunCommand(RemoteScript script)
    {
        var sessions = Quote(script.Path + ".sessions");
        var run = $"bash {Quote(ScriptPath(script))} </dev/null";
        if (script.Pty)
        {
            // script(1) starts the job in a session of its own on the terminal; -e passes its exit code on,
            // and stdin from /dev/null keeps a stray read from hanging.
            var inner = $"echo $$ >> {sessions}; {run}; s=$?; {KillLeftovers}; exit $s";
            run = $"TERM=xterm script -qefc {Quote("exec sh -c " + Quote(inner))} /dev/null </dev/null";
        }
        return "exec sh -c " + Quote($"{ChangeDirectory(script)}echo $$ > {sessions}; {run}; s=$?; {KillLeftovers}; exit $s");
    }

    public static string KillCommand(RemoteScript script) =>
        "exec sh -c " + Quote($"{ChangeDirectory(script)}for s in $(cat {Quote(script.Path + ".sessions")} 2>/dev/null); do " +
            "pkill -KILL -s \"$s\" 2>/dev/null; kill -KILL \"-$s\" 2>/dev/null; done; true");

    /// <summary>Single-quoted for a POSIX shell.</summary>
    public static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string ScriptPath(RemoteScript script) =>
        script.Path.StartsWith('/') || script.Path.StartsWith("./", StringComparison.Ordinal) ? script.Path : "./" + script.Path;

    private static string ChangeDirectory(RemoteScript script) =>
        script.WorkingDirectory is { } dir ? $"cd {Quote(dir)} || exit 1; " : "";
}
