using System.Globalization;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Core.Security;

namespace Worker.Docker;

/// <summary>
/// Settings of the Docker backend, <c>WORKER_DOCKER_*</c>, and the operator's policy for what a job
/// may ask of its container (<c>WORKER_ALLOWED_IMAGES</c>, <c>WORKER_ALLOWED_VOLUMES</c>, ceilings).
/// </summary>
public sealed record DockerOptions
{
    public const string LocalSocket = "unix:///var/run/docker.sock";

    /// <summary>The files a <c>DOCKER_CERT_PATH</c> directory holds, as Docker names them.</summary>
    public static readonly string[] TlsFiles = ["ca.pem", "cert.pem", "key.pem"];

    /// <summary>travis-worker's main process of its containers, the default of <see cref="Command"/> in its form.</summary>
    public static readonly IReadOnlyList<string> TravisMainCommand = ["/sbin/init"];

    /// <summary>travis-worker's default tmpfs map, in this backend's form (options separated by ';').</summary>
    public static readonly IReadOnlyList<string> TravisRunTmpfs = ["/run:rw;nosuid;nodev;exec;noatime;size=65536k"];

    /// <summary>The value of <see cref="Command"/> that keeps the job's script the main process when the default would not.</summary>
    public const string NoMainCommand = "none";

    public static readonly Setting<Uri?> Endpoint = Setting.OptionalUri("DOCKER_ENDPOINT",
        "Docker Engine API endpoint. Empty: DOCKER_HOST, else " + LocalSocket + ".",
        secret: false, "unix", "tcp", "http", "https");
    public static readonly Setting<string?> CertPath = new("DOCKER_CERT_PATH", null,
        "Directory with ca.pem, cert.pem and key.pem for a tcp:// endpoint that requires TLS (as travis-worker and the docker CLI). Empty: no TLS.",
        "a directory holding ca.pem, cert.pem and key.pem",
        text => Directory.Exists(text) && TlsFiles.All(f => File.Exists(Path.Combine(text, f))) ? (true, text) : (false, null), v => v ?? "");
    public static readonly Setting<string> ImageDefault = Setting.Text("DOCKER_IMAGE_DEFAULT", "worker-job-base:bookworm",
        "Image of a job that names none; standby containers use it too.", "an image reference");
    public static readonly Setting<string> ImageSelectorType = Setting.OneOf("DOCKER_IMAGE_SELECTOR_TYPE", TagSelector,
        "How a job that names no image gets one, as travis-worker chose by its language: tag (the host's image tagged travis:LANGUAGE, else travis:default), "
        + "env (the DOCKER_IMAGE_KEY mappings: DOCKER_IMAGE_RUBY=IMAGE) or api (the image named by job-board's search at IMAGE_SELECTOR_URL); none found: IMAGE_DEFAULT. "
        + "A chosen image is the operator's, so WORKER_ALLOWED_IMAGES does not apply to it, and it runs as travis.",
        TagSelector, ImageSelectorChoice.Env, ImageSelectorChoice.Api);
    public static readonly Setting<Uri?> ImageSelectorUrl = Setting.OptionalUri("DOCKER_IMAGE_SELECTOR_URL",
        "job-board's image search for the api selector, e.g. https://user:password@job-board.example/images/search (the user info is sent as basic authentication).",
        secret: false, "http", "https");
    public static readonly Setting<double> Cpus = Setting.Number("DOCKER_CPUS", 2,
        "CPUs a job's container gets unless the job asks for another number (0: no limit).");
    public static readonly Setting<int?> CpuSetSize = new("DOCKER_CPU_SET_SIZE", null,
        "How many of the engine's CPUs (0 to N-1) job containers are pinned within, each to as many CPUs as it gets, rounded up, the least used first, "
        + "so nproc in a job counts its own CPUs (travis-worker's CPU_SET_SIZE). Empty: all the engine's CPUs. 0: no pinning, the CPU count is a quota only.",
        "a whole number, 0 or more",
        text => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (true, n) : (false, null),
        v => v?.ToString(CultureInfo.InvariantCulture) ?? "");
    public static readonly Setting<long> Memory = Setting.Bytes("DOCKER_MEMORY", 4L << 30,
        "Memory a job's container gets unless the job asks for another size; swap is not added (0: no limit).");
    public static readonly Setting<double?> MaxCpus = OptionalNumber("DOCKER_MAX_CPUS",
        "Most CPUs a job may ask for (config.cpus). Empty: WORKER_DOCKER_CPUS, or no ceiling when that is 0.");
    public static readonly Setting<long?> MaxMemory = OptionalBytes("DOCKER_MAX_MEMORY",
        "Most memory a job may ask for (config.memory). Empty: WORKER_DOCKER_MEMORY, or no ceiling when that is 0.");
    public static readonly Setting<string?> Network = Setting.OptionalText("DOCKER_NETWORK",
        "Network every job's container joins (e.g. bridge, none, or a user-defined network). Empty: Docker's default bridge.",
        "a network name");
    public static readonly Setting<PrivilegedContainers> Privileged = PrivilegedContainersSetting.Create("DOCKER_PRIVILEGED");
    public static readonly Setting<string?> User = Setting.OptionalText("DOCKER_USER",
        "The user every job's container runs as (as docker run --user: NAME, UID or UID:GID). Empty: the image's own, "
        + "except that an image an image selector chose (IMAGE_SELECTOR_TYPE; e.g. travis:LANGUAGE) runs as travis, as travis-worker ran it.",
        "a user name or id, optionally :group");
    public static readonly Setting<IReadOnlyList<string>> Volumes = new("DOCKER_VOLUMES", Array.Empty<string>(),
        "Binds every job's container gets, set by the operator and not checked against WORKER_ALLOWED_VOLUMES; the Docker socket is never mounted unless listed here or allowed there.",
        "a comma-separated list of SOURCE:DESTINATION[:OPTIONS] (ro or rw, and the engine's z, Z, rshared..., cached..., separated by ';' here) "
            + "with an absolute destination other than " + ScriptArchive.Directory,
        text => ParseList(text, s => VolumeRequest.TryParseOperatorBind(s, out _)), v => string.Join(",", v));
    public static readonly Setting<IReadOnlyList<string>> Tmpfs = new("DOCKER_TMPFS", Array.Empty<string>(),
        "tmpfs mounts of every job's container.",
        "a comma-separated list of ABSOLUTE_PATH[:OPTIONS] (options separated by ';' here, e.g. /run:rw;size=64m), not over " + ScriptArchive.Directory,
        text => ParseList(text, IsTmpfsMount), v => string.Join(",", v));
    public static readonly Setting<long> ShmSize = Setting.Bytes("DOCKER_SHM_SIZE", 64L << 20,
        "Size of /dev/shm in each job's container.", min: 1);
    public static readonly Setting<IReadOnlyList<string>> Command = new Setting<IReadOnlyList<string>>("DOCKER_CMD", Array.Empty<string>(),
            "Main process of every job's container and standby, e.g. /sbin/init, so the image's init system runs and a build can start services "
            + "(service, systemctl); the script then runs in the started container by exec. An image without that command errors its jobs, naming it. "
            + "Empty: the job's script is the main process (faster; no init). Default /sbin/init, as travis-worker's, when the settings are in "
            + "travis-worker's form (an image without it then runs its jobs as if it were " + NoMainCommand + ", with a warning); " + NoMainCommand + " turns it off there.",
            "a command and its arguments separated by spaces (no quoting), or " + NoMainCommand,
            text => (true, text == NoMainCommand ? Array.Empty<string>() : Split(text, ' ')), v => string.Join(" ", v))
        .DefaultingTo(settings => settings.InTravisForm ? TravisMainCommand : Array.Empty<string>());
    public static readonly Setting<int> Standby = Setting.Int("DOCKER_STANDBY", 0,
        "Started containers of the default image kept ready; a job on that image takes one and another starts behind it.",
        min: 0, max: 100);
    public static readonly Setting<TimeSpan> StandbyLease = new("DOCKER_STANDBY_LEASE", TimeSpan.FromMinutes(2),
        "How long an idle standby stays its worker's without being renewed (the worker renews it every quarter of that). "
        + "Once it lapses (the worker was killed), another worker on this host takes the standby over or removes it, and `worker cleanup` may delete it.",
        "a duration of at least 1s",
        text => Durations.TryParse(text, out var d) && d >= TimeSpan.FromSeconds(1) ? (true, d) : (false, TimeSpan.Zero),
        Durations.Format);
    public static readonly Setting<string> Pull = Setting.OneOf("DOCKER_PULL", "missing",
        "When a job's image is pulled: missing, only when it is not on the host; never, the job is refused instead; always, before every container " +
        "(a moved tag such as :latest is taken at once; a failed pull uses the host's copy; an image never pulled under its name here, a local tag, is not pulled).",
        ImagePullPolicies.Names);
    public static readonly Setting<IReadOnlyList<string>> AllowedImages = JobPolicySettings.AllowedImages;
    public static readonly Setting<IReadOnlyList<string>> AllowedVolumes = JobPolicySettings.AllowedVolumes;
    public static readonly Setting<IReadOnlyList<string>> SecurityOpt = new("DOCKER_SECURITY_OPT", Array.Empty<string>(),
        "Security options of every job's container, as docker run --security-opt (travis-worker's SECURITY_OPT).",
        "a space-separated list, e.g. seccomp=unconfined no-new-privileges",
        text => (true, Split(text, ' ')), v => string.Join(" ", v));
    public static readonly Setting<int> PidsLimit = Setting.Int("DOCKER_PIDS_LIMIT", 4096,
        "Most processes and threads a job's container may have at once, so a fork bomb can't exhaust the host; a build with more threads than this fails to start them (0: no limit).",
        min: 0);
    public static readonly Setting<IReadOnlyList<string>> CapDrop = new("DOCKER_CAP_DROP", Array.Empty<string>(),
        "Capabilities taken from every job's container, as docker run --cap-drop. ALL leaves root in the container without privilege: sudo, apt-get and chown fail. Empty: Docker's default set.",
        "a comma-separated list of capability names, e.g. ALL or NET_RAW,MKNOD",
        text => Split(text, ',').Select(LinuxCapabilities.Normalize).ToArray() is var caps && caps.All(c => c is not null)
            ? (true, caps.OfType<string>().ToArray())
            : (false, Array.Empty<string>()),
        v => string.Join(",", v));
    public static readonly Setting<bool> NoNewPrivileges = Setting.Bool("DOCKER_NO_NEW_PRIVILEGES", false,
        "Start every job's container with no-new-privileges: setuid programs (sudo, su) no longer raise privilege, so a job that runs as a user and needs sudo fails.");
    public static readonly Setting<bool> Terminal = Setting.Bool("DOCKER_TTY", false,
            "Run each job's script on a terminal, as travis-worker did (its default in travis-worker's form): [ -t 1 ] holds, TERM=xterm, tools color their output, "
            + "and lines end in CR LF. util-linux script in the image makes the terminal; an image without it runs the script without one.")
        .DefaultingTo(settings => settings.InTravisForm);
    public static readonly Setting<IReadOnlyList<string>> ContainerLabels = new("DOCKER_CONTAINER_LABELS", Array.Empty<string>(),
        "Labels every job's container gets besides this worker's own (travis-worker's CONTAINER_LABELS).",
        "comma- or space-separated KEY:VALUE pairs; keys starting with worker- are this worker's",
        text => Split(text, ' ', ',') is var pairs && pairs.All(p => p.IndexOf(':') > 0 && !p.StartsWith("worker-", StringComparison.Ordinal))
            ? (true, pairs)
            : (false, Array.Empty<string>()),
        v => string.Join(",", v));

    public static readonly Setting<string?> HttpProxy = ProxySetting("HTTP");
    public static readonly Setting<string?> HttpsProxy = ProxySetting("HTTPS");
    public static readonly Setting<string?> FtpProxy = ProxySetting("FTP");
    public static readonly Setting<string?> NoProxy = Setting.OptionalText("DOCKER_NO_PROXY",
        "NO_PROXY and no_proxy of every job's container: the hosts its proxy is not used for (travis-worker's DOCKER_NO_PROXY).",
        "a comma-separated list of hosts, domains and addresses");

    // travis-worker's names and formats for settings above, read as well, so its deployments move over unchanged.
    public static readonly Setting<Uri?> TravisHost = Setting.OptionalUri("DOCKER_HOST",
        "travis-worker's other name for WORKER_DOCKER_ENDPOINT.", secret: false, "unix", "tcp", "http", "https");
    public static readonly Setting<long?> TravisShm = OptionalBytes("DOCKER_SHM",
        "travis-worker's name for WORKER_DOCKER_SHM_SIZE (that one wins when both are set); 0: Docker's default.", allowZero: true);
    public static readonly Setting<IReadOnlyList<string>> TravisBinds = new("DOCKER_BINDS", Array.Empty<string>(),
        "travis-worker's binds, added to WORKER_DOCKER_VOLUMES.",
        "a space-separated list of SOURCE:DESTINATION[:OPTIONS] (ro or rw, and the engine's z, Z, rshared..., cached...) with an absolute destination other than "
            + ScriptArchive.Directory,
        text => Split(text, ' ') is var binds && binds.All(b => VolumeRequest.TryParseOperatorBind(b, out _)) ? (true, binds) : (false, Array.Empty<string>()),
        v => string.Join(" ", v));
    public static readonly Setting<IReadOnlyList<string>> TravisTmpfsMap = new Setting<IReadOnlyList<string>>("DOCKER_TMPFS_MAP", Array.Empty<string>(),
        "travis-worker's tmpfs mounts, added to WORKER_DOCKER_TMPFS.",
        "PATH:OPTIONS entries (options comma-separated) separated by spaces or '+', e.g. /run:rw,exec+/run/lock:rw",
        text => Split(text, ' ', '+').Select(e => e.Replace(',', ';')).ToArray() is var mounts && mounts.All(IsTmpfsMount)
            ? (true, mounts)
            : (false, Array.Empty<string>()),
        v => string.Join(" ", v.Select(m => m.Replace(';', ','))))
        // travis-worker mounted a tmpfs on /run in every container, which an init (systemd) wants there.
        .DefaultingTo(settings => settings.InTravisForm ? TravisRunTmpfs : Array.Empty<string>());

    public static IReadOnlyList<ISetting> All { get; } =
    [
        Endpoint, CertPath, ImageDefault, Cpus, CpuSetSize, Memory, MaxCpus, MaxMemory, Network, Privileged, User, Volumes, Tmpfs, ShmSize,
        Command, Terminal, Standby, StandbyLease, Pull, HttpProxy, HttpsProxy, FtpProxy, NoProxy, AllowedImages, AllowedVolumes, SecurityOpt, PidsLimit, CapDrop, NoNewPrivileges, ContainerLabels, TravisHost, TravisShm, TravisBinds, TravisTmpfsMap,
        ImageSelectorType, ImageSelectorUrl,
    ];

    /// <summary>travis-worker's own Docker selector, its default: the host's images tagged for the language (<see cref="LanguageImages"/>).</summary>
    public const string TagSelector = "tag";

    /// <summary>The beginning of travis-worker's image mappings' keys for the env selector (<c>DOCKER_IMAGE_RUBY</c>).</summary>
    public const string ImageMappingPrefix = "DOCKER_IMAGE_";

    public Uri EndpointUri { get; init; } = new(LocalSocket);
    public string? TlsDirectory { get; init; }
    public string DefaultImage { get; init; } = ImageDefault.Default;

    /// <summary>The selector of a job's image when it names none: tag (the default), env or api.</summary>
    public ImageSelectorChoice ImageSelector { get; init; } = new(TagSelector);

    /// <summary>The env selector's mappings (<c>DOCKER_IMAGE_KEY</c>), by lowercased key.</summary>
    public IReadOnlyDictionary<string, string> ImageMappings { get; init; } = new Dictionary<string, string>();
    public double CpusPerJob { get; init; } = Cpus.Default;
    public long MemoryPerJob { get; init; } = Memory.Default;

    /// <summary><c>WORKER_DOCKER_CPU_SET_SIZE</c>; null: the engine's CPU count (see <see cref="CpuSets"/>).</summary>
    public int? CpusToPinWithin { get; init; }
    public double? CpuCeiling { get; init; }
    public long? MemoryCeiling { get; init; }
    public string? NetworkName { get; init; }
    public PrivilegedContainers Privileges { get; init; }

    /// <summary><c>WORKER_DOCKER_USER</c>; null: the image's own (see <see cref="DockerPolicy"/> for travis's images).</summary>
    public string? ContainerUser { get; init; }
    public IReadOnlyList<string> OperatorVolumes { get; init; } = [];
    public IReadOnlyList<string> TmpfsMounts { get; init; } = [];
    public IReadOnlyList<string> SecurityOptions { get; init; } = [];
    public int MaxProcesses { get; init; } = PidsLimit.Default;
    public IReadOnlyList<string> DroppedCapabilities { get; init; } = [];
    public bool ForbidNewPrivileges { get; init; }

    /// <summary><c>WORKER_DOCKER_TTY</c>: the script runs on a terminal.</summary>
    public bool ScriptOnTerminal { get; init; }
    public IReadOnlyDictionary<string, string> ExtraLabels { get; init; } = new Dictionary<string, string>();
    public long ShmBytes { get; init; } = ShmSize.Default;

    /// <summary><c>WORKER_DOCKER_CMD</c>: the main process of every container; empty: a job's script is its container's main process.</summary>
    public IReadOnlyList<string> MainCommand { get; init; } = [];

    /// <summary>The variable that set <see cref="MainCommand"/>, named when an image can't run it; null: travis-worker's default.</summary>
    public string? MainCommandVariable { get; init; } = SettingsSource.Prefix + Command.Key;
    public int StandbyCount { get; init; }
    public TimeSpan StandbyLeaseTime { get; init; } = StandbyLease.Default;
    public ImagePullPolicy PullPolicy { get; init; } = ImagePullPolicy.Missing;

    /// <summary>The proxy variables every job's container gets, each in upper and lower case (tools read one or the other).</summary>
    public IReadOnlyList<string> ProxyEnvironment { get; init; } = [];

    /// <summary>The passwords in those proxy URLs, as written and decoded: a job's log masks them.</summary>
    public IReadOnlyList<string> ProxyPasswords => [.. ProxyEnvironment.Select(v => v[(v.IndexOf('=') + 1)..]).SelectMany(PasswordOf).Distinct()];
    public IReadOnlyList<string> ImageGlobs { get; init; } = [];
    public IReadOnlyList<string> VolumeRules { get; init; } = [];

    /// <summary>How long a container create may take before the job gives up on it (the create is then followed; see <see cref="UnansweredCreates"/>). Not a setting; tests shorten it.</summary>
    internal TimeSpan CreateTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a pull of an image the host has (WORKER_DOCKER_PULL=always) may go without a word
    /// from the engine before the job gives up on it and runs on the host's copy. Not a setting; tests shorten it.
    /// </summary>
    internal TimeSpan RefreshSilenceLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Where the backend keeps what must outlive the process (under <c>WORKER_BASE_DIR</c>); null: nothing is kept.</summary>
    public string? StateDirectory { get; init; }

    public static DockerOptions Load(SettingsSource source)
    {
        var endpoint = Endpoint.Read(source) ?? TravisHost.Read(source);
        if (endpoint is null && source.Raw("DOCKER_HOST") is { } dockerHost)
        {
            endpoint = Uri.TryCreate(dockerHost, UriKind.Absolute, out var parsed) && parsed.Scheme is "unix" or "tcp" or "http" or "https"
                ? parsed
                : throw new InvalidSettingException("DOCKER_HOST", dockerHost, Endpoint.Allowed);
        }
        endpoint ??= new Uri(LocalSocket);
        var tls = CertPath.Read(source);
        if (tls is not null && endpoint.Scheme == "unix")
        {
            // The Docker CLI's own DOCKER_CERT_PATH counts only for a tcp:// engine, as the CLI takes it.
            tls = source.Find(CertPath.Key)!.Value.Variable == CertPath.Key
                ? null
                : throw new InvalidSettingException(source.Find(CertPath.Key)!.Value.Variable, tls, "empty for a unix socket endpoint: TLS needs a tcp:// endpoint");
        }
        return new DockerOptions
        {
            EndpointUri = endpoint,
            TlsDirectory = tls,
            DefaultImage = ImageDefault.Read(source),
            ImageSelector = ImageSelectorChoice.Read(source, ImageSelectorType, ImageSelectorUrl),
            ImageMappings = EnvImageSelector.MappingsFrom(source, ImageMappingPrefix),
            CpusPerJob = Cpus.Read(source),
            CpusToPinWithin = CpuSetSize.Read(source),
            MemoryPerJob = Memory.Read(source),
            CpuCeiling = MaxCpus.Read(source),
            MemoryCeiling = MaxMemory.Read(source),
            NetworkName = Network.Read(source),
            Privileges = Privileged.Read(source),
            ContainerUser = User.Read(source),
            OperatorVolumes = [.. Volumes.Read(source), .. TravisBinds.Read(source)],
            // One mount per path (the engine takes a map): WORKER_DOCKER_TMPFS's wins over travis-worker's.
            TmpfsMounts = [.. Tmpfs.Read(source).Concat(TravisTmpfsMap.Read(source)).DistinctBy(m => m.Split(':')[0].TrimEnd('/'))],
            // travis-worker's SHM=0 left /dev/shm at Docker's default, which is this one's.
            ShmBytes = source.Find(ShmSize.Key) is null && TravisShm.Read(source) is { } shm and > 0 ? shm : ShmSize.Read(source),
            SecurityOptions = SecurityOpt.Read(source),
            MaxProcesses = PidsLimit.Read(source),
            DroppedCapabilities = CapDrop.Read(source),
            ForbidNewPrivileges = NoNewPrivileges.Read(source),
            ScriptOnTerminal = Terminal.Read(source),
            ExtraLabels = ContainerLabels.Read(source).Select(p => p.Split(':', 2)).ToDictionary(p => p[0], p => p[1]),
            MainCommand = Command.Read(source),
            MainCommandVariable = source.Find(Command.Key)?.Variable,
            StandbyCount = Standby.Read(source),
            StandbyLeaseTime = StandbyLease.Read(source),
            PullPolicy = ImagePullPolicies.Parse(Pull.Read(source)),
            ProxyEnvironment =
            [
                .. ProxyVariables("HTTP_PROXY", HttpProxy.Read(source)), .. ProxyVariables("HTTPS_PROXY", HttpsProxy.Read(source)),
                .. ProxyVariables("FTP_PROXY", FtpProxy.Read(source)), .. ProxyVariables("NO_PROXY", NoProxy.Read(source)),
            ],
            ImageGlobs = AllowedImages.Read(source),
            VolumeRules = AllowedVolumes.Read(source),
        };
    }

    /// <summary>An absolute mount point, not over the job's script, with optional ';'-separated options.</summary>
    private static bool IsTmpfsMount(string mount) =>
        mount.StartsWith('/') && !ScriptArchive.IsCoveredBy("/" + mount.Split(':')[0].Trim('/'));

    private static string[] Split(string text, params char[] separators) =>
        text.Split(separators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static (bool, IReadOnlyList<string>) ParseList(string text, Func<string, bool> valid)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return items.All(valid) ? (true, items) : (false, Array.Empty<string>());
    }

    /// <summary>A proxy URL may hold a password (<c>http://user:password@proxy:3128</c>), so it is shown masked.</summary>
    private static Setting<string?> ProxySetting(string scheme) => Setting.OptionalText($"DOCKER_{scheme}_PROXY",
        $"{scheme}_PROXY and {scheme.ToLowerInvariant()}_proxy of every job's container (travis-worker's DOCKER_{scheme}_PROXY).",
        "a proxy URL such as http://proxy.internal:3128", secret: true);

    /// <summary>
    /// The password of <c>scheme://user:password@host</c>, read up to the last <c>@</c>: travis-worker
    /// URL-unescaped its settings, so a <c>%40</c> in one reaches the container as an <c>@</c>.
    /// </summary>
    private static IEnumerable<string> PasswordOf(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal);
        var at = url.LastIndexOf('@');
        if (start < 0 || at < start)
        {
            return [];
        }
        var userInfo = url[(start + 3)..at];
        var colon = userInfo.IndexOf(':');
        return colon >= 0 && userInfo[(colon + 1)..] is { Length: > 0 } password ? [password, Uri.UnescapeDataString(password)] : [];
    }

    private static IEnumerable<string> ProxyVariables(string name, string? value) =>
        value is null ? [] : [$"{name}={value}", $"{name.ToLowerInvariant()}={value}"];

    private static Setting<double?> OptionalNumber(string key, string description) =>
        new(key, null, description, "a positive number",
            text => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && double.IsFinite(v) ? (true, v) : (false, null),
            v => v?.ToString(CultureInfo.InvariantCulture) ?? "");

    private static Setting<long?> OptionalBytes(string key, string description, bool allowZero = false) =>
        new(key, null, description, allowZero ? "a size such as 512m or 8g, or 0" : "a size such as 512m or 8g",
            text => ByteSizes.TryParse(text, out var v) && (v > 0 || allowZero && v == 0) ? (true, v) : (false, null),
            v => v?.ToString(CultureInfo.InvariantCulture) ?? "");
}
