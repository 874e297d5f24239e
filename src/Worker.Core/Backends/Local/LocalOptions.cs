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

    public static IReadOnlyList<ISetting> All { get; } = [User, WorkDir];

    public string? RunAsUser { get; init; }
    public string? WorkDirectory { get; init; }

    public static LocalOptions Load(SettingsSource source) => new()
    {
        RunAsUser = User.Read(source),
        WorkDirectory = WorkDir.Read(source),
    };
}
