using System.Globalization;
using System.Runtime.InteropServices;

namespace Worker.Core.Backends.Local;

/// <summary>
/// Kills a script and everything it started. The script runs as the leader of its own session
/// (<c>setsid</c>), so its process group and session id equal its pid; killing the group catches
/// ordinary children, and a scan of <c>/proc</c> for the session catches those that made their own
/// process group. A process that made its own session escapes this; where the host offers cgroups
/// the job's <see cref="JobCgroup"/> catches it.
/// </summary>
public static partial class ProcessSession
{
    private const int SigKill = 9;
    private const int SigInt = 2;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Kills the session led by <paramref name="sessionId"/>; returns how many processes were signalled.</summary>
    public static int KillSession(int sessionId)
    {
        var killed = 0;
        if (Kill(-sessionId, SigKill) == 0)
        {
            killed++;
        }
        foreach (var pid in Members(sessionId))
        {
            if (Kill(pid, SigKill) == 0)
            {
                killed++;
            }
        }
        return killed;
    }

    /// <summary>SIGKILL to one process; false when it is gone already.</summary>
    public static bool KillProcess(int pid) => Kill(pid, SigKill) == 0;

    /// <summary>Whether <paramref name="pid"/> is gone or a zombie (exited, waiting only to be reaped).</summary>
    public static bool HasExited(int pid) => Stat(pid) is not { } fields || fields[0] == "Z";

    /// <summary>Asks the session led by <paramref name="sessionId"/> to stop (SIGINT to its process group), as Ctrl-C would.</summary>
    public static void InterruptSession(int sessionId) => Kill(-sessionId, SigInt);

    /// <summary>Live processes (not zombies) whose session id is <paramref name="sessionId"/>.</summary>
    public static IReadOnlyList<int> Members(int sessionId)
    {
        var members = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            if (Stat(pid) is { Length: > 3 } fields && fields[0] != "Z" &&
                int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var sid) && sid == sessionId)
            {
                members.Add(pid);
            }
        }
        return members;
    }

    /// <summary>The fields of /proc/PID/stat after "pid (comm) ", state first; null when the process is gone.</summary>
    private static string[]? Stat(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // comm may contain spaces and parentheses: it ends at the last ')'.
        var close = stat.LastIndexOf(')');
        return close < 0 || close + 2 > stat.Length ? null : stat[(close + 2)..].Split(' ');
    }
}
