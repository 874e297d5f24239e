using System.Globalization;
using System.Text.RegularExpressions;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Ssh;

namespace Worker.Gce;

/// <summary>Settings of the Compute Engine backend, <c>WORKER_GCE_*</c>, with travis-worker's names and defaults.</summary>
public sealed partial record GceOptions
{
    public static readonly Setting<string?> AccountJson = Setting.OptionalText("GCE_ACCOUNT_JSON",
        "Service account key: a file path or the JSON itself. Empty: Application Default Credentials (the metadata server on GCE).",
        "a path to a JSON key file, or the key's JSON", secret: true);
    public static readonly Setting<string?> AccessToken = Setting.OptionalText("GCE_ACCESS_TOKEN",
        "A static OAuth access token, for emulators and tests; overrides ACCOUNT_JSON.", secret: true);
    public static readonly Setting<Uri?> ApiEndpoint = Setting.OptionalUri("GCE_API_ENDPOINT",
        "Compute API base URL, for emulators and tests. Empty: https://compute.googleapis.com/compute/v1/.", false, "http", "https");
    public static readonly Setting<string?> ProjectId = Setting.OptionalText("GCE_PROJECT_ID",
        "Project the job VMs live in. Empty: the project of the GCE instance this worker runs on (metadata server).");
    public static readonly Setting<string> Zone = new("GCE_ZONE", "us-central1-a",
        "Zone job VMs are created in; when it has no capacity, the other zones of its region are tried. Unset on GCE: the worker host's own zone, as travis-worker's.",
        "a zone name (travis-worker's comma-separated list works too)",
        text => text.Split(',', StringSplitOptions.RemoveEmptyEntries).Length > 0 ? (true, text) : (false, ""), v => v);
    public static readonly Setting<IReadOnlyList<string>> Zones = Setting.List("GCE_ZONES",
        "Zones job VMs are spread over, one picked at random per VM, as travis-worker's ZONES; the others, then the rest of the region, are tried when it has no capacity. Empty: WORKER_GCE_ZONE.",
        "a comma-separated list of zone names");
    public static readonly Setting<string?> Region = Setting.OptionalText("GCE_REGION",
        "Region whose zones are tried when ZONE has no capacity, and the only one a payload's vm_config.zone may name. Empty: the zone's region.");
    public static readonly Setting<string> Network = Setting.Text("GCE_NETWORK", "default", "VPC network of job VMs.");
    public static readonly Setting<string?> Subnetwork = Setting.OptionalText("GCE_SUBNETWORK", "Subnetwork of job VMs (needed for custom-mode networks).");
    public static readonly Setting<string> MachineType = Setting.Text("GCE_MACHINE_TYPE", "n1-standard-2",
        "Machine type of a job VM whose vm_size is empty or not in VM_SIZE_MACHINE_TYPES.");
    public static readonly Setting<string> PremiumMachineType = Setting.Text("GCE_PREMIUM_MACHINE_TYPE", "n1-standard-4",
        "Machine type of a job VM whose payload says vm_type premium (travis-scheduler's), unless its vm_size is in VM_SIZE_MACHINE_TYPES.");

    public static readonly Setting<IReadOnlyDictionary<string, string>> VmSizeMachineTypes = new("GCE_VM_SIZE_MACHINE_TYPES",
        new Dictionary<string, string>
        {
            ["medium"] = "n2-standard-2", ["large"] = "n2-standard-4", ["x-large"] = "n2-standard-8", ["2x-large"] = "n2-standard-16",
        },
        "Machine type for each job vm_size. The GPU vm_sizes (" + string.Join(", ", GpuVmSizes.Names) + ") get " + GpuVmSizes.MachineType +
        ", an N1 machine their GPU attaches to, unless the map names them.",
        "a comma-separated list of vm_size=machine-type pairs",
        ParseMap, map => string.Join(",", map.Select(kv => $"{kv.Key}={kv.Value}")));
    public static readonly Setting<int> DiskSize = Setting.Int("GCE_DISK_SIZE", 20,
        "Boot disk size in GB; a GPU vm_size's (gpu-medium, gpu-xlarge) is at least " + GpuVmSizes.DiskSizeGb + ", as travis-worker made it.", min: 10, max: 65536);
    public static readonly Setting<string> GpuType = new("GCE_GPU_TYPE", "nvidia-tesla-t4",
        "Type of a job's GPUs when its vm_config gives a gpu_count but no gpu_type (travis-worker read GPU_TYPE and GPU_COUNT but attached nothing by them).",
        "an accelerator type name such as nvidia-tesla-t4 or nvidia-l4, or its URL (.../acceleratorTypes/NAME)",
        // travis-worker took any text here and never used it, so a deployment may hold the type's URL: its name is what counts.
        text => text.Split('/')[^1] is var name && GuestAccelerators.IsTypeName(name) && (name == text || text.Contains("/acceleratorTypes/", StringComparison.Ordinal))
            ? (true, name)
            : (false, ""),
        v => v);
    public static readonly Setting<int> GpuCount = Setting.Int("GCE_GPU_COUNT", 0,
        "GPUs a job gets when its vm_config gives a gpu_type but no gpu_count; 0: none, as under travis-worker.", min: 0);
    public static readonly Setting<int?> MaxGpus = new Setting<int?>("GCE_MAX_GPUS", 0,
            "Most GPUs a job VM may get (its vm_config's, or 1 for vm_size gpu-medium or gpu-xlarge); a job asking for more is refused. "
            + "0, the default: no GPUs unless the operator allows them. In travis-worker's form: no ceiling, as there (travis-scheduler, not the job, fills vm_config).",
            "a whole number, 0 or more",
            text => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (true, n) : (false, null),
            v => v?.ToString(CultureInfo.InvariantCulture) ?? "")
        .DefaultingTo(settings => settings.InTravisForm ? null : 0);
    public static readonly Setting<string?> ImageProjectId = Setting.OptionalText("GCE_IMAGE_PROJECT_ID", "Project holding the job images. Empty: PROJECT_ID.");
    public static readonly Setting<string> ImageDefault = Setting.Text("GCE_IMAGE_DEFAULT", "travis-ci.+",
        "Regular expression for the image of a job that names none; the newest image whose whole name matches is used.", "a regular expression");
    public static readonly Setting<string> ImageSelectorType = Setting.OneOf("GCE_IMAGE_SELECTOR_TYPE", ImageSelectorChoice.Env,
        "How a job that names no image gets one, as travis-worker chose: env (the GCE_IMAGE_KEY mappings for its language, dist, group and os) "
        + "or api (the image named by job-board's search at IMAGE_SELECTOR_URL, looked up by name in IMAGE_PROJECT_ID); none found: IMAGE_DEFAULT.",
        ImageSelectorChoice.Env, ImageSelectorChoice.Api);
    public static readonly Setting<Uri?> ImageSelectorUrl = Setting.OptionalUri("GCE_IMAGE_SELECTOR_URL",
        "job-board's image search for the api selector, e.g. https://user:password@job-board.example/images/search (the user info is sent as basic authentication).",
        secret: false, "http", "https");
    public static readonly Setting<bool> Preemptible = Setting.Bool("GCE_PREEMPTIBLE", false, "Create preemptible job VMs; a preempted job is requeued.");
    public static readonly Setting<bool> Spot = Setting.Bool("GCE_SPOT", false,
        "Create Spot job VMs, which replace preemptible ones: as cheap, without their 24-hour limit; a preempted job is requeued. Not with PREEMPTIBLE.");
    public static readonly Setting<bool> PublicIp = Setting.Bool("GCE_PUBLIC_IP", true, "Give job VMs an external IP.");
    public static readonly Setting<bool> PublicIpConnect = Setting.Bool("GCE_PUBLIC_IP_CONNECT", true, "Connect over the external IP (else the internal one).");
    public static readonly Setting<TimeSpan> BootPrePollSleep = Setting.Duration("GCE_BOOT_PRE_POLL_SLEEP", TimeSpan.FromSeconds(15),
        "Wait after the insert before polling its operation.", allowZero: true);
    public static readonly Setting<TimeSpan> BootPollSleep = Setting.Duration("GCE_BOOT_POLL_SLEEP", TimeSpan.FromSeconds(3),
        "Between polls of the insert operation, the instance and SSH.");
    public static readonly Setting<int> UploadRetries = Setting.Int("GCE_UPLOAD_RETRIES", 120, "Attempts to upload the script.", min: 1);
    public static readonly Setting<TimeSpan> UploadRetrySleep = Setting.Duration("GCE_UPLOAD_RETRY_SLEEP", TimeSpan.FromSeconds(1), "Between upload attempts.");
    public static readonly Setting<bool> SkipStopPoll = Setting.Bool("GCE_SKIP_STOP_POLL", false, "Don't wait for the delete operation when a job ends.");
    public static readonly Setting<TimeSpan> StopPollSleep = Setting.Duration("GCE_STOP_POLL_SLEEP", TimeSpan.FromSeconds(3), "Between polls of the delete operation.");
    public static readonly Setting<TimeSpan> SshDialTimeout = Setting.Duration("GCE_SSH_DIAL_TIMEOUT", TimeSpan.FromSeconds(5), "Longest one SSH connection attempt may take.");
    public static readonly Setting<string> SshUser = Setting.Text("GCE_SSH_USER", "travis", "User the job runs as; its key goes into the VM's ssh-keys metadata.");
    public static readonly Setting<int> SshPort = Setting.Int("GCE_SSH_PORT", 22, "SSH port of the job image.", min: 1, max: 65535);
    public static readonly Setting<double> RateLimit = Setting.Number("GCE_RATE_LIMIT", 10,
        "Compute API calls per second, shared by all processors of this worker (0: no limit).");
    public static readonly Setting<int> ApiRetries = Setting.Int("GCE_API_RETRIES", 8,
        "Retries of a Compute API call after 429, 5xx, rateLimitExceeded, a timeout or a garbled answer.", min: 0, max: 100);
    public static readonly Setting<TimeSpan> BackoffRetryMax = Setting.Duration("GCE_BACKOFF_RETRY_MAX", TimeSpan.FromMinutes(1),
        "Longest wait between retries of a Compute API call (exponential backoff with jitter).");
    public static readonly Setting<TimeSpan> RequestTimeout = Setting.Duration("GCE_REQUEST_TIMEOUT", TimeSpan.FromSeconds(30),
        "Longest one Compute API request may take before it is retried.");
    public static readonly Setting<string?> HostInstanceName = Setting.OptionalText("GCE_HOST_INSTANCE",
        "Name of the GCE instance this worker runs on, put on its job VMs so cleanup can tell when that host is gone. Empty: from the metadata server on GCE; none elsewhere.");
    public static readonly Setting<string?> HostZoneName = Setting.OptionalText("GCE_HOST_ZONE",
        "Zone of the GCE instance this worker runs on, put on its job VMs with its name and project, since a name alone may be another zone's host. Empty: from the metadata server on GCE; none elsewhere.");
    public static readonly Setting<string?> HostProjectId = Setting.OptionalText("GCE_HOST_PROJECT",
        "Project the worker hosts run in: put on job VMs, and where `worker cleanup` looks for their hosts. Empty: the project of the GCE instance this runs on (metadata server), else PROJECT_ID.");
    public static readonly Setting<string> InstanceNamePrefix = new Setting<string>("GCE_INSTANCE_NAME_PREFIX", "worker-job",
            "Start of each job VM's name, which goes on with the job id and a random suffix. Default travis-job, as travis-worker named its VMs, "
            + "when the settings are in travis-worker's form, so its gcloud-cleanup (filter ^travis-job-) finds them too.",
            "lowercase letters, digits and dashes, starting with a letter, at most 30",
            text => NamePrefixPattern().IsMatch(text) ? (true, text) : (false, ""), v => v)
        .DefaultingTo(settings => settings.InTravisForm ? "travis-job" : "worker-job");
    public static readonly Setting<bool> AutoImplode = Setting.Bool("GCE_AUTO_IMPLODE", true,
        "Job VMs power themselves off after the job's hard limit plus AUTO_IMPLODE_MARGIN, even if the worker died.");
    public static readonly Setting<TimeSpan> AutoImplodeMargin = Setting.Duration("GCE_AUTO_IMPLODE_MARGIN", TimeSpan.FromMinutes(10),
        "Added to the job's hard limit for the auto-implode poweroff.");

    public static IReadOnlyList<ISetting> All { get; } =
    [
        AccountJson, AccessToken, ApiEndpoint, ProjectId, Zone, Zones, Region, Network, Subnetwork, MachineType, PremiumMachineType, VmSizeMachineTypes,
        DiskSize, GpuType, GpuCount, MaxGpus, ImageProjectId, ImageDefault, ImageSelectorType, ImageSelectorUrl, Preemptible, Spot, PublicIp, PublicIpConnect, BootPrePollSleep, BootPollSleep,
        UploadRetries, UploadRetrySleep, SkipStopPoll, StopPollSleep, SshDialTimeout, SshUser, SshPort, RateLimit,
        ApiRetries, BackoffRetryMax, RequestTimeout, HostInstanceName, HostZoneName, HostProjectId, AutoImplode, AutoImplodeMargin, InstanceNamePrefix,
    ];

    public static readonly Uri DefaultEndpoint = new("https://compute.googleapis.com/compute/v1/");

    /// <summary>Start of each job VM's name (<c>WORKER_GCE_INSTANCE_NAME_PREFIX</c>).</summary>
    public string NamePrefix { get; init; } = InstanceNamePrefix.Default;

    /// <summary>A job VM's name: the prefix, the job id and a random suffix (a retried job gets a new VM).</summary>
    public string InstanceNameFor(long jobId) =>
        $"{NamePrefix}-{jobId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}";

    public string? Account { get; init; }
    public string? Token { get; init; }
    public Uri Endpoint { get; init; } = DefaultEndpoint;
    public string? Project { get; init; }
    public string PrimaryZone => ZoneNames[0];

    /// <summary>Neither <c>GCE_ZONE</c> nor <c>GCE_ZONES</c> is set: on GCE, job VMs go to the host's own zone, as travis-worker's did (see <see cref="OnHost"/>).</summary>
    public bool ZoneUnset { get; init; }

    /// <summary><c>GCE_REGION</c> is not set: it follows the zone.</summary>
    public bool RegionUnset { get; init; }

    /// <summary>
    /// These options for a worker on <paramref name="host"/>: without a zone of the operator's, job
    /// VMs go to the host's zone (its region with it), as travis-worker put them; a regional
    /// instance group then spreads its jobs over its zones, as it spreads its hosts.
    /// </summary>
    public GceOptions OnHost(GceHostMachine? host) =>
        ZoneUnset && host?.Zone is { } zone
            ? this with { ZoneNames = [zone], RegionName = RegionUnset ? RegionOf(zone) : RegionName }
            : this;

    /// <summary>The zones VMs are spread over (at least one).</summary>
    public IReadOnlyList<string> ZoneNames { get; init; } = [Zone.Default];
    public string RegionName { get; init; } = "us-central1";
    public string NetworkName { get; init; } = Network.Default;
    public string? SubnetworkName { get; init; }
    public string DefaultMachineType { get; init; } = MachineType.Default;
    public IReadOnlyDictionary<string, string> MachineTypes { get; init; } = VmSizeMachineTypes.Default;
    public int DiskSizeGb { get; init; } = DiskSize.Default;

    /// <summary>The type of a job's GPUs when its vm_config gives a count only (<c>WORKER_GCE_GPU_TYPE</c>).</summary>
    public string DefaultGpuType { get; init; } = GpuType.Default;

    /// <summary>How many GPUs a job gets when its vm_config gives a type only (<c>WORKER_GCE_GPU_COUNT</c>).</summary>
    public int DefaultGpuCount { get; init; } = GpuCount.Default;

    /// <summary>The most GPUs a job VM may get (<c>WORKER_GCE_MAX_GPUS</c>); null: no ceiling, as in travis-worker's form.</summary>
    public int? GpuCeiling { get; init; } = MaxGpus.Default;
    public string? ImageProject { get; init; }
    public string PremiumType { get; init; } = PremiumMachineType.Default;

    /// <summary><c>TRAVIS_SITE</c>, a network tag of every job VM; null: none.</summary>
    public string? SiteTag { get; init; }

    public string DefaultImagePattern { get; init; } = ImageDefault.Default;

    /// <summary>The beginning of travis-worker's image mappings' keys (<c>GCE_IMAGE_XENIAL_RUBY</c>).</summary>
    public const string ImageMappingPrefix = "GCE_IMAGE_";

    /// <summary>travis-worker's image mappings (<c>GCE_IMAGE_KEY</c>), by lowercased key: see <see cref="EnvImageSelector"/>.</summary>
    public IReadOnlyDictionary<string, string> ImageMappings { get; init; } = new Dictionary<string, string>();

    /// <summary>The selector of a job's image when it names none: the env mappings (the default) or job-board.</summary>
    public ImageSelectorChoice ImageSelector { get; init; } = new(ImageSelectorType.Default);
    public bool IsPreemptible { get; init; }

    /// <summary>Job VMs are Spot VMs (<c>WORKER_GCE_SPOT</c>): see <see cref="VmScheduling"/>.</summary>
    public bool IsSpot { get; init; }

    public bool WithPublicIp { get; init; } = true;
    public bool ConnectOverPublicIp { get; init; } = true;
    public TimeSpan PrePollSleep { get; init; } = BootPrePollSleep.Default;
    public TimeSpan PollSleep { get; init; } = BootPollSleep.Default;
    public int UploadAttempts { get; init; } = UploadRetries.Default;
    public TimeSpan UploadSleep { get; init; } = UploadRetrySleep.Default;
    public bool NoStopPoll { get; init; }
    public TimeSpan StopSleep { get; init; } = StopPollSleep.Default;
    public TimeSpan DialTimeout { get; init; } = SshDialTimeout.Default;
    public string User { get; init; } = SshUser.Default;
    public int Port { get; init; } = SshPort.Default;

    /// <summary>
    /// SSH to a job VM: the dial timeout bounds both phases of an attempt; attempts follow the boot
    /// poll until the startup timeout, and a refused key is tried again (the guest agent installs it
    /// a moment after sshd starts).
    /// </summary>
    public SshConnectOptions SshConnect => new()
    {
        DialTimeout = DialTimeout,
        HandshakeTimeout = DialTimeout,
        RetryPause = PollSleep,
        RetryRefusedAuthentication = true,
    };
    public double CallsPerSecond { get; init; } = RateLimit.Default;
    public int Retries { get; init; } = ApiRetries.Default;
    public TimeSpan MaxBackoff { get; init; } = BackoffRetryMax.Default;
    public TimeSpan PerRequestTimeout { get; init; } = RequestTimeout.Default;
    public string? HostInstance { get; init; }
    public string? HostZone { get; init; }
    public string? HostProject { get; init; }
    public bool Implode { get; init; } = true;
    public TimeSpan ImplodeMargin { get; init; } = AutoImplodeMargin.Default;

    public static GceOptions Load(SettingsSource source)
    {
        // travis-worker also took a comma-separated list in ZONE.
        var zones = Zones.Read(source) is { Count: > 0 } listed
            ? listed
            : Zone.Read(source).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var zone = zones[0];
        var pattern = ImageDefault.Read(source);
        try
        {
            _ = new Regex(pattern);
        }
        catch (ArgumentException)
        {
            throw new InvalidSettingException(source.Find(ImageDefault.Key)?.Variable ?? "WORKER_GCE_IMAGE_DEFAULT", pattern, ImageDefault.Allowed);
        }
        var preemptible = Preemptible.Read(source);
        var spot = Spot.Read(source);
        if (preemptible && spot)
        {
            // Compute Engine would take both (a Spot VM may say preemptible too), but they ask for two kinds of VM.
            var (spotVariable, spotValue) = source.Find(Spot.Key)!.Value;
            throw new InvalidSettingException(spotVariable, spotValue,
                $"false when {source.Find(Preemptible.Key)!.Value.Variable}=true: job VMs are Spot or preemptible (Spot's legacy form, stopped after 24 hours), not both");
        }
        return new GceOptions
        {
            Account = AccountJson.Read(source),
            Token = AccessToken.Read(source),
            Endpoint = ApiEndpoint.Read(source) is { } uri ? WithTrailingSlash(uri) : DefaultEndpoint,
            Project = ProjectId.Read(source),
            ZoneNames = zones,
            ZoneUnset = source.Find(Zones.Key) is null && source.Find(Zone.Key) is null,
            RegionUnset = source.Find(Region.Key) is null,
            RegionName = Region.Read(source) ?? RegionOf(zone),
            NetworkName = Network.Read(source),
            SubnetworkName = Subnetwork.Read(source),
            DefaultMachineType = MachineType.Read(source),
            PremiumType = PremiumMachineType.Read(source),
            SiteTag = WorkerOptions.TravisSite.Read(source),
            MachineTypes = VmSizeMachineTypes.Read(source),
            DiskSizeGb = DiskSize.Read(source),
            DefaultGpuType = GpuType.Read(source),
            DefaultGpuCount = GpuCount.Read(source),
            GpuCeiling = MaxGpus.Read(source),
            ImageProject = ImageProjectId.Read(source),
            DefaultImagePattern = pattern,
            ImageMappings = EnvImageSelector.MappingsFrom(source, ImageMappingPrefix),
            ImageSelector = ImageSelectorChoice.Read(source, ImageSelectorType, ImageSelectorUrl),
            IsPreemptible = preemptible,
            IsSpot = spot,
            WithPublicIp = PublicIp.Read(source),
            ConnectOverPublicIp = PublicIpConnect.Read(source),
            PrePollSleep = BootPrePollSleep.Read(source),
            PollSleep = BootPollSleep.Read(source),
            UploadAttempts = UploadRetries.Read(source),
            UploadSleep = UploadRetrySleep.Read(source),
            NoStopPoll = SkipStopPoll.Read(source),
            StopSleep = StopPollSleep.Read(source),
            DialTimeout = SshDialTimeout.Read(source),
            User = SshUser.Read(source),
            Port = SshPort.Read(source),
            CallsPerSecond = RateLimit.Read(source),
            Retries = ApiRetries.Read(source),
            MaxBackoff = BackoffRetryMax.Read(source),
            PerRequestTimeout = RequestTimeout.Read(source),
            HostInstance = HostInstanceName.Read(source),
            HostZone = HostZoneName.Read(source),
            HostProject = HostProjectId.Read(source),
            Implode = AutoImplode.Read(source),
            ImplodeMargin = AutoImplodeMargin.Read(source),
            NamePrefix = InstanceNamePrefix.Read(source),
        };
    }

    /// <summary>The machine type for a job's vm_size, else its vm_type (premium), else the default.</summary>
    public string MachineTypeFor(string? vmSize, string? vmType = null) =>
        vmSize is { Length: > 0 } && MachineTypes.TryGetValue(vmSize, out var type) ? type
        // Not the default machine type: a GPU attaches to N1 machines only, not E2 or N2.
        : GpuVmSizes.Includes(vmSize) ? GpuVmSizes.MachineType
        : vmType == "premium" ? PremiumType
        : DefaultMachineType;

    /// <summary><c>us-central1-a</c> is in <c>us-central1</c>.</summary>
    public static string RegionOf(string zone)
    {
        var dash = zone.LastIndexOf('-');
        return dash > 0 ? zone[..dash] : zone;
    }

    private static Uri WithTrailingSlash(Uri uri) =>
        uri.OriginalString.EndsWith('/') ? uri : new Uri(uri.OriginalString + "/");

    private static (bool, IReadOnlyDictionary<string, string>) ParseMap(string text)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                return (false, map);
            }
            map[parts[0].ToLower(CultureInfo.InvariantCulture)] = parts[1];
        }
        return (true, map);
    }

    [GeneratedRegex("^[a-z][-a-z0-9]{0,29}$")]
    private static partial Regex NamePrefixPattern();
}
