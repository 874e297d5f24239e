using System.Globalization;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Core.Security;
using Worker.Ssh;

namespace Worker.Vm;

/// <summary>
/// The settings every VM backend has, each under the backend's own prefix (<c>WORKER_TART_*</c>,
/// <c>WORKER_VETU_*</c>), declared once here so the two can't drift.
/// </summary>
public sealed class VmSettings
{
    public VmSettings(string prefix, string tool, string defaultImage, int maxCpus)
    {
        Prefix = prefix;
        Tool = tool;
        CliPath = Setting.Text($"{prefix}_PATH", tool,
            $"The {tool} CLI: a path, or a name looked up on PATH.", "a path or a command name");
        SshUser = Setting.Text($"{prefix}_SSH_USER", "admin",
            "User the worker logs into each VM as: the image's own (Cirrus Labs' images: admin).", "a user name");
        SshPassword = new Setting<string>($"{prefix}_SSH_PASSWORD", "admin",
            "That user's password (Cirrus Labs' images: admin).", "any text", text => (true, text), v => v, secret: true);
        SshPort = Setting.Int($"{prefix}_SSH_PORT", 22, "Port of the VMs' sshd.", min: 1, max: 65535);
        Cpu = Setting.Int($"{prefix}_CPU", 0,
            "CPUs each VM gets unless the job asks for another number (config.cpus, rounded up). 0: the image's own.", min: 0, max: maxCpus);
        Memory = Setting.Bytes($"{prefix}_MEMORY", 0,
            "Memory each VM gets unless the job asks for another size (config.memory; passed in MiB). 0: the image's own.");
        DiskSize = Setting.Bytes($"{prefix}_DISK_SIZE", 0,
            $"Disk each VM gets unless the job asks for another size (config.disk; 60g is {tool} set --disk-size 60). {tool} only grows a disk. 0: the image's own.");
        MaxCpu = OptionalInt($"{prefix}_MAX_CPU", maxCpus,
            $"Most CPUs a job may ask for. Empty: WORKER_{prefix}_CPU, or no ceiling when that is 0.");
        MaxMemory = OptionalBytes($"{prefix}_MAX_MEMORY",
            $"Most memory a job may ask for. Empty: WORKER_{prefix}_MEMORY, or no ceiling when that is 0.");
        MaxDiskSize = OptionalBytes($"{prefix}_MAX_DISK_SIZE",
            $"Most disk a job may ask for. Empty: WORKER_{prefix}_DISK_SIZE, or no ceiling when that is 0.");
        Standby = Setting.Int($"{prefix}_STANDBY", 0,
            "Booted VMs of the default image and settings kept ready; a job asking for exactly that takes one and another boots behind it.",
            min: 0, max: 16);
        BootTimeout = Setting.Duration($"{prefix}_BOOT_TIMEOUT", TimeSpan.FromMinutes(3),
            $"Longest a VM may take from {tool} run until its sshd lets the worker in (WORKER_STARTUP_TIMEOUT bounds the whole start too).");
        ImageDefault = Setting.Text($"{prefix}_IMAGE_DEFAULT", defaultImage,
            "Image of a job that names none; standby VMs use it too. A local VM name or an OCI reference.", "an image name");
        Pull = Setting.OneOf($"{prefix}_PULL", "missing",
            $"When a job's image is pulled ({tool} pull, before the clone): missing, only when it is not on this host; never, the job is refused instead; " +
            "always, before every clone of an OCI reference, keeping the copy here when the pull fails (as cirrus-cli does).",
            ImagePullPolicies.Names);
    }

    /// <summary>The key prefix, <c>TART</c> or <c>VETU</c>.</summary>
    public string Prefix { get; }

    public string Tool { get; }

    public Setting<string> CliPath { get; }
    public Setting<string> SshUser { get; }
    public Setting<string> SshPassword { get; }
    public Setting<int> SshPort { get; }
    public Setting<int> Cpu { get; }
    public Setting<long> Memory { get; }
    public Setting<long> DiskSize { get; }
    public Setting<int?> MaxCpu { get; }
    public Setting<long?> MaxMemory { get; }
    public Setting<long?> MaxDiskSize { get; }
    public Setting<int> Standby { get; }
    public Setting<TimeSpan> BootTimeout { get; }
    public Setting<string> ImageDefault { get; }
    public Setting<string> Pull { get; }

    public IReadOnlyList<ISetting> All =>
    [
        CliPath, SshUser, SshPassword, SshPort, Cpu, Memory, DiskSize, MaxCpu, MaxMemory, MaxDiskSize,
        Standby, BootTimeout, ImageDefault, Pull,
    ];

    /// <summary>The variable a key is read from, for messages that name a setting.</summary>
    public string Variable(ISetting setting) => SettingsSource.Prefix + setting.Key;

    /// <param name="stateDirectory">Where this backend's VM records go (under <c>WORKER_BASE_DIR</c>).</param>
    public VmOptions Load(SettingsSource source, string stateDirectory) => new()
    {
        Tool = Tool,
        CliPath = CliPath.Read(source),
        CliPathVariable = Variable(CliPath),
        SshUser = SshUser.Read(source),
        SshPassword = SshPassword.Read(source),
        SshPort = SshPort.Read(source),
        Cpus = Cpu.Read(source),
        Memory = Memory.Read(source),
        Disk = DiskSize.Read(source),
        CpuCeiling = MaxCpu.Read(source),
        MemoryCeiling = MaxMemory.Read(source),
        DiskCeiling = MaxDiskSize.Read(source),
        StandbyCount = Standby.Read(source),
        BootTimeout = BootTimeout.Read(source),
        DefaultImage = ImageDefault.Read(source),
        Pull = ImagePullPolicies.Parse(Pull.Read(source)),
        ImageGlobs = JobPolicySettings.AllowedImages.Read(source),
        VolumeRules = JobPolicySettings.AllowedVolumes.Read(source),
        StateDirectory = stateDirectory,
        Prefix = Prefix,
        Ssh = new SshConnectOptions(),
    };

    private static Setting<int?> OptionalInt(string key, int max, string description) =>
        new(key, null, description, $"an integer from 1 to {max}",
            text => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is > 0 && v <= max ? (true, v) : (false, null),
            v => v?.ToString(CultureInfo.InvariantCulture) ?? "");

    private static Setting<long?> OptionalBytes(string key, string description) =>
        new(key, null, description, "a size such as 8g or 512m",
            text => ByteSizes.TryParse(text, out var v) && v > 0 ? (true, v) : (false, null),
            v => v?.ToString(CultureInfo.InvariantCulture) ?? "");
}
