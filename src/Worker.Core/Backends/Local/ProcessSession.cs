using System.Globalization;
using System.Runtime.InteropServices;

namespace Worker.Core.Backends.Local;

/// <summary>
/// Kills a script and everything it started. The script runs as the leader of its own session
/// (<c>setsid</c>), so its process group and session id equal its pid; killing the group catches
/// ordinary children, and a scan of <c>/proc</c> for the session catches those that made their own
/// process group. Only a process that made its own session escapes, which CI scripts don't do.
/// </summary>
public static partial class ProcessSession
{
    private const int SigKill = 9;

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
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            // /proc/PID/stat: "pid (comm) state ppid pgrp session ..."; comm may contain spaces.
            var close = stat.LastIndexOf(')');
            if (close < 0)
            {
                continue;
            }
            var fields = stat[(close + 2)..].Split(' ');
            if (fields.Length > 3 && fields[0] != "Z" &&
                int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var sid) && sid == sessionId)
            {
                members.Add(pid);
            }
        }
        return members;
    }
}
