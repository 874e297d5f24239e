using Worker.Core.Configuration;

namespace Worker.Core.Backends.Local;

/// <summary>Settings of the bare-metal backend, <c>WORKER_LOCAL_*</c>.</summary>
public sealed record LocalOptions
{
    public static readonly Setting<string?> User = Setting.OptionalText("LOCAL_USER",
        "Run scripts as this unprivileged user (needs root and runuser); its working directory is owned by it. Empty: the worker's own user.",
        "an existing user name");
    public static readonly Setting<string?> WorkDir = Setting.OptionalText("LOCAL_WORK_DIR",
        "Parent of each job's fresh working directory. Empty: BASE_DIR/local.");

    public static readonly Setting<string> Cgroup = Setting.OneOf("LOCAL_CGROUP", CgroupHost.Auto,
        "Run each job in a cgroup of its own and kill the whole cgroup after it, so nothing the script starts (even in a session of its own) outlives the job: auto uses cgroup v2, else v1 (pids or freezer), else only the script's session is killed; v2 or v1 insists on that version; off kills the session only.",
        CgroupHost.Auto, CgroupHost.V2, CgroupHost.V1, CgroupHost.Off);

    // travis-worker's local provider wrote each job's script into its SCRIPTS_DIR: here that is
    // where each job's directory (its script inside) goes, so its deployments move over unchanged.
    public static readonly Setting<string?> TravisScriptsDir = Setting.OptionalText("LOCAL_SCRIPTS_DIR",
        "travis-worker's name for WORKER_LOCAL_WORK_DIR (that one wins when both are set).");

    public static IReadOnlyList<ISetting> All { get; } = [User, WorkDir, Cgroup, TravisScriptsDir];

    public string? RunAsUser { get; init; }
    public string? WorkDirectory { get; init; }
    public string CgroupVersion { get; init; } = Cgroup.Default;

    public static LocalOptions Load(SettingsSource source) => new()
    {
        RunAsUser = User.Read(source),
        WorkDirectory = WorkDir.Read(source) ?? TravisScriptsDir.Read(source),
        CgroupVersion = Cgroup.Read(source),
    };
}
