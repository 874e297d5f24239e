using System.Globalization;

namespace Worker.Core.Backends.Local;

/// <summary>
/// One local job's cgroup (a directory per hierarchy): the script joins it before it starts, so
/// everything it starts is inside, whatever session or process group it makes; killing the
/// cgroup kills them all.
/// </summary>
public sealed class JobCgroup
{
    private readonly IReadOnlyList<string> _directories;
    private readonly bool _unified;
    private readonly bool _pids;
    private readonly bool _freezer;

    internal JobCgroup(IReadOnlyList<string> directories, bool unified, bool pids, bool freezer)
    {
        _directories = directories;
        _unified = unified;
        _pids = pids;
        _freezer = freezer;
    }

    /// <summary>The <c>cgroup.procs</c> files a process writes its pid to, to join.</summary>
    public IReadOnlyList<string> ProcsFiles => _directories.Select(d => Path.Combine(d, "cgroup.procs")).ToList();

    /// <summary>Live processes in it (a zombie waits only for its parent and holds nothing).</summary>
    public IReadOnlyList<int> Members() =>
        _directories.SelectMany(d => ReadPids(Path.Combine(d, "cgroup.procs"))).Distinct().Where(pid => !ProcessSession.HasExited(pid)).ToList();

    /// <summary>Sends SIGKILL to everything in it. Does not wait: a process forking at this moment may need another call.</summary>
    public void Kill()
    {
        if (_unified)
        {
            Write("cgroup.kill", "1");
            return;
        }
        // cgroup v1 has no kill: stop forks first (pids.max 0, or a freeze), then kill each member.
        if (_pids)
        {
            Write("pids.max", "0");
        }
        if (_freezer)
        {
            Write("freezer.state", "FROZEN");
        }
        foreach (var pid in Members())
        {
            ProcessSession.KillProcess(pid);
        }
        if (_freezer)
        {
            // Killed tasks die once thawed.
            Write("freezer.state", "THAWED");
        }
    }

    /// <summary>Kills everything in it until it is empty, then removes it; throws when processes outlive <paramref name="patience"/>.</summary>
    public async Task RemoveAsync(TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            Kill();
            if (Members().Count == 0 && TryRemoveDirectories())
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new IOException(
                    $"job cgroup {_directories[0]} still holds processes {string.Join(' ', Members())} after they were killed");
            }
            await Task.Delay(50);
        }
    }

    private bool TryRemoveDirectories()
    {
        foreach (var directory in _directories.Where(Directory.Exists))
        {
            try
            {
                // A cgroup directory holds only kernel files: rmdir, never a recursive delete.
                Directory.Delete(directory);
            }
            catch (IOException)
            {
                return false;
            }
        }
        return true;
    }

    private void Write(string file, string value)
    {
        foreach (var directory in _directories)
        {
            var path = Path.Combine(directory, file);
            if (File.Exists(path))
            {
                try
                {
                    File.WriteAllText(path, value);
                }
                catch (IOException)
                {
                    // Gone already (removed after it emptied): nothing left to kill there.
                }
            }
        }
    }

    private static IEnumerable<int> ReadPids(string procs)
    {
        string text;
        try
        {
            text = File.ReadAllText(procs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => int.Parse(line, NumberStyles.None, CultureInfo.InvariantCulture));
    }
}
