using System.Text.Json.Nodes;
using Worker.Core.Configuration;

namespace Worker.Core.Scripts;

/// <summary>
/// What travis-worker adds to a job's payload before it asks travis-build for the script
/// (<c>WORKER_BUILD_*</c>): cache hosts, the paranoid and fix-up switches, and the build cache's
/// store. Used only with <c>WORKER_BUILD_API_URI</c>.
/// </summary>
public sealed record BuildApiOptions
{
    public static readonly Setting<string?> AptCache = Setting.OptionalText("BUILD_APT_CACHE",
        "APT cache host handed to travis-build (payload hosts.apt_cache).", "a host or URL");
    public static readonly Setting<string?> NpmCache = Setting.OptionalText("BUILD_NPM_CACHE",
        "npm cache host handed to travis-build (payload hosts.npm_cache).", "a host or URL");
    public static readonly Setting<bool> Paranoid = Setting.Bool("BUILD_PARANOID", false,
        "travis-build's paranoid mode: no sudo in the job (payload paranoid).");
    public static readonly Setting<bool> FixResolvConf = Setting.Bool("BUILD_FIX_RESOLV_CONF", false,
        "travis-build rewrites /etc/resolv.conf (payload fix_resolv_conf).");
    public static readonly Setting<bool> FixEtcHosts = Setting.Bool("BUILD_FIX_ETC_HOSTS", false,
        "travis-build rewrites /etc/hosts (payload fix_etc_hosts).");
    public static readonly Setting<string?> CacheType = Setting.OptionalText("BUILD_CACHE_TYPE",
        "Build cache store handed to travis-build (payload cache_options); empty: no cache options.", "e.g. s3");
    public static readonly Setting<TimeSpan> CacheFetchTimeout = Setting.Duration("BUILD_CACHE_FETCH_TIMEOUT", TimeSpan.FromMinutes(5),
        "How long the job may spend fetching its build cache.");
    public static readonly Setting<TimeSpan> CachePushTimeout = Setting.Duration("BUILD_CACHE_PUSH_TIMEOUT", TimeSpan.FromMinutes(5),
        "How long the job may spend pushing its build cache.");
    public static readonly Setting<string?> CacheS3Scheme = Setting.OptionalText("BUILD_CACHE_S3_SCHEME", "Scheme of the S3 build cache (http or https).");
    public static readonly Setting<string?> CacheS3Region = Setting.OptionalText("BUILD_CACHE_S3_REGION", "Region of the S3 build cache.");
    public static readonly Setting<string?> CacheS3Bucket = Setting.OptionalText("BUILD_CACHE_S3_BUCKET", "Bucket of the S3 build cache.");
    public static readonly Setting<string?> CacheS3AccessKeyId = Setting.OptionalText("BUILD_CACHE_S3_ACCESS_KEY_ID",
        "Access key id of the S3 build cache.", secret: true);
    public static readonly Setting<string?> CacheS3SecretAccessKey = Setting.OptionalText("BUILD_CACHE_S3_SECRET_ACCESS_KEY",
        "Secret access key of the S3 build cache.", secret: true);
    public static readonly Setting<bool> InsecureSkipVerify = Setting.Bool("BUILD_API_INSECURE_SKIP_VERIFY", false,
        "Accept any TLS certificate from WORKER_BUILD_API_URI (a self-signed travis-build in a lab; never in production).");

    public static IReadOnlyList<ISetting> All { get; } =
    [
        AptCache, NpmCache, Paranoid, FixResolvConf, FixEtcHosts, CacheType, CacheFetchTimeout, CachePushTimeout,
        CacheS3Scheme, CacheS3Region, CacheS3Bucket, CacheS3AccessKeyId, CacheS3SecretAccessKey, InsecureSkipVerify,
    ];

    public string? AptCacheHost { get; init; }
    public string? NpmCacheHost { get; init; }
    public bool ParanoidMode { get; init; }
    public bool FixResolv { get; init; }
    public bool FixHosts { get; init; }
    public string? Cache { get; init; }
    public TimeSpan FetchTimeout { get; init; } = CacheFetchTimeout.Default;
    public TimeSpan PushTimeout { get; init; } = CachePushTimeout.Default;
    public string? S3Scheme { get; init; }
    public string? S3Region { get; init; }
    public string? S3Bucket { get; init; }
    public string? S3AccessKeyId { get; init; }
    public string? S3SecretAccessKey { get; init; }
    public bool SkipTlsVerify { get; init; }

    public static BuildApiOptions Load(SettingsSource source) => new()
    {
        AptCacheHost = AptCache.Read(source),
        NpmCacheHost = NpmCache.Read(source),
        ParanoidMode = Paranoid.Read(source),
        FixResolv = FixResolvConf.Read(source),
        FixHosts = FixEtcHosts.Read(source),
        Cache = CacheType.Read(source),
        FetchTimeout = CacheFetchTimeout.Read(source),
        PushTimeout = CachePushTimeout.Read(source),
        S3Scheme = CacheS3Scheme.Read(source),
        S3Region = CacheS3Region.Read(source),
        S3Bucket = CacheS3Bucket.Read(source),
        S3AccessKeyId = CacheS3AccessKeyId.Read(source),
        S3SecretAccessKey = CacheS3SecretAccessKey.Read(source),
        SkipTlsVerify = InsecureSkipVerify.Read(source),
    };

    /// <summary>The payload as travis-worker sends it to travis-build: a copy with these options set in it.</summary>
    public JsonObject Apply(JsonObject payload)
    {
        var body = (JsonObject)payload.DeepClone();
        if (AptCacheHost is not null || NpmCacheHost is not null)
        {
            var hosts = body["hosts"] as JsonObject ?? [];
            body["hosts"] = hosts;
            if (AptCacheHost is not null)
            {
                hosts["apt_cache"] = AptCacheHost;
            }
            if (NpmCacheHost is not null)
            {
                hosts["npm_cache"] = NpmCacheHost;
            }
        }
        body["paranoid"] = ParanoidMode;
        body["fix_resolv_conf"] = FixResolv;
        body["fix_etc_hosts"] = FixHosts;
        if (Cache is not null)
        {
            body["cache_options"] = new JsonObject
            {
                ["type"] = Cache,
                ["fetch_timeout"] = (int)FetchTimeout.TotalSeconds,
                ["push_timeout"] = (int)PushTimeout.TotalSeconds,
                ["s3"] = new JsonObject
                {
                    ["scheme"] = S3Scheme ?? "",
                    ["region"] = S3Region ?? "",
                    ["bucket"] = S3Bucket ?? "",
                    ["access_key_id"] = S3AccessKeyId ?? "",
                    ["secret_access_key"] = S3SecretAccessKey ?? "",
                },
            };
        }
        return body;
    }
}
