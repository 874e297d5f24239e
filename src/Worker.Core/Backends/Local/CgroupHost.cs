namespace Worker.Core.Backends.Local;

/// <summary>
/// The control groups this host lets the worker make for its local jobs, so a job's processes
/// are killed together even when one starts a session of its own (<c>setsid</c>, a daemon), which
/// the session kill can't reach. cgroup v2 (Linux 5.14+, for <c>cgroup.kill</c>) is preferred;
/// cgroup v1 needs the pids or the freezer controller. Job cgroups go beneath the worker's own,
/// so whatever stops the worker's cgroup (a systemd unit) stops its jobs too.
/// </summary>
public sealed class CgroupHost
{
    public const string Auto = "auto";
    public const string V2 = "v2";
    public const string V1 = "v1";
    public const string Off = "off";

    private const string JobsDirectory = "worker-jobs";

    private readonly string? _unified;
    private readonly string? _freezer;
    private readonly string? _pids;

    private CgroupHost(string? unified, string? freezer, string? pids)
    {
        _unified = unified;
        _freezer = freezer;
        _pids = pids;
    }

    /// <summary>What holds the jobs, in words, for the worker's log.</summary>
    public string Description => _unified is not null
        ? $"cgroup v2 under {_unified}"
        : $"cgroup v1 under {string.Join(" and ", new[] { _pids, _freezer }.OfType<string>())}";

    /// <summary>A new, empty cgroup for one job.</summary>
    public JobCgroup Create(string name)
    {
        var directories = new[] { _unified, _pids, _freezer }.OfType<string>().Select(parent => Path.Combine(parent, name)).ToList();
        foreach (var directory in directories)
        {
            Directory.CreateDirectory(directory);
        }
        return _unified is not null
            ? new JobCgroup(directories, unified: true, pids: false, freezer: false)
            : new JobCgroup(directories, unified: false, pids: _pids is not null, freezer: _freezer is not null);
    }

    /// <summary>
    /// The cgroups of <paramref name="version"/> (<see cref="Auto"/>: the best there is) this
    /// process may make, or null with <paramref name="why"/> not.
    /// </summary>
    public static CgroupHost? Detect(string version, out string why)
    {
        var mounts = Mounts();
        var own = OwnCgroups();
        var reasons = new List<string>();
        if (version is Auto or V2)
        {
            var unified = mounts.FirstOrDefault(m => m.Type == "cgroup2");
            var parent = unified is null ? null : JobsParent(unified, own.GetValueOrDefault(""), reasons);
            if (unified is null)
            {
                reasons.Add("no cgroup v2 hierarchy is mounted");
            }
            else if (parent is not null && !File.Exists(Path.Combine(parent, "cgroup.kill")))
            {
                reasons.Add($"{unified.MountPoint} has no cgroup.kill (Linux before 5.14)");
            }
            else if (parent is not null)
            {
                why = "";
                return new CgroupHost(parent, null, null);
            }
        }
        if (version is Auto or V1)
        {
            string? V1Parent(string controller) =>
                mounts.FirstOrDefault(m => m.Type == "cgroup" && m.Options.Contains(controller)) is { } mount
                    ? JobsParent(mount, own.FirstOrDefault(o => o.Key.Split(',').Contains(controller)).Value, reasons)
                    : null;
            var pids = V1Parent("pids");
            var freezer = V1Parent("freezer");
            if (pids is not null || freezer is not null)
            {
                why = "";
                return new CgroupHost(null, freezer, pids);
            }
            reasons.Add("no cgroup v1 pids or freezer hierarchy this worker can write to");
        }
        why = string.Join("; ", reasons.Distinct());
        return null;
    }

    /// <summary>The directory job cgroups go in, beneath this process's own cgroup of the hierarchy, created if missing.</summary>
    private static string? JobsParent(Mount mount, string? ownPath, List<string> reasons)
    {
        if (ownPath is null)
        {
            reasons.Add($"this process is in no cgroup of {mount.MountPoint}");
            return null;
        }
        // The mount may show a subtree (a container without its own cgroup namespace): paths are relative to its root.
        var relative = ownPath.StartsWith(mount.Root, StringComparison.Ordinal) ? ownPath[mount.Root.Length..] : ownPath;
        var parent = Path.Combine(mount.MountPoint + "/" + relative.Trim('/'), JobsDirectory);
        try
        {
            Directory.CreateDirectory(parent);
            return parent;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reasons.Add($"can't make {parent}: {e.Message}");
            return null;
        }
    }

    private sealed record Mount(string Root, string MountPoint, string Type, string[] Options);

    /// <summary>cgroup mounts from /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - TYPE SOURCE SUPEROPTS".</summary>
    private static List<Mount> Mounts()
    {
        var mounts = new List<Mount>();
        foreach (var line in ReadLines("/proc/self/mountinfo"))
        {
            var halves = line.Split(" - ", 2);
            var before = halves[0].Split(' ');
            var after = halves.Length == 2 ? halves[1].Split(' ') : [];
            if (before.Length >= 5 && after.Length >= 3 && after[0] is "cgroup" or "cgroup2")
            {
                mounts.Add(new Mount(Unescape(before[3]), Unescape(before[4]), after[0], after[2].Split(',')));
            }
        }
        return mounts;
    }

    /// <summary>This process's cgroup per hierarchy, from /proc/self/cgroup ("ID:CONTROLLERS:PATH"); v2's controllers are "".</summary>
    private static Dictionary<string, string> OwnCgroups()
    {
        var own = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in ReadLines("/proc/self/cgroup"))
        {
            var parts = line.Split(':', 3);
            if (parts.Length == 3)
            {
                own[parts[1]] = parts[2];
            }
        }
        return own;
    }

    private static string[] ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>mountinfo writes a space in a path as \040.</summary>
    private static string Unescape(string field) => field.Replace("\\040", " ", StringComparison.Ordinal);
}
