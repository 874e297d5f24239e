using Worker.Cirrus.Api;
using Worker.Cirrus.Security;

namespace Worker.Cirrus.Config;

/// <summary>
/// cirrus-cli's persistent-worker file (<c>cirrus worker run -f worker.yml</c>), every key as spelled
/// there, after the flags were applied as its defaults. Backend settings still come from
/// <c>WORKER_*</c> variables; this is what Cirrus itself is told and what it may ask for.
/// </summary>
public sealed record CirrusWorkerConfig
{
    public const string DefaultRpcEndpoint = "https://grpc.cirrus-ci.com:443";

    /// <summary>The name the worker registers under (<c>name</c>, else <c>--name</c>, else the host name).</summary>
    public required string Name { get; init; }

    /// <summary>The pool's registration token (<c>token</c>); empty when <c>upstreams</c> is used.</summary>
    public string Token { get; init; } = "";

    /// <summary>Labels added to (and able to override) the reserved ones; see <see cref="WorkerLabels"/>.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>What this worker offers (<c>resources</c>), e.g. <c>tart-vms: 2</c>; empty: one task at a time.</summary>
    public IReadOnlyDictionary<string, double> Resources { get; init; } = new Dictionary<string, double>();

    public CirrusLogConfig Log { get; init; } = new();

    /// <summary><c>rpc.endpoint</c>.</summary>
    public string RpcEndpoint { get; init; } = DefaultRpcEndpoint;

    /// <summary>The servers to register with: <c>upstreams</c>, or one made of <c>token</c> and <c>rpc.endpoint</c>.</summary>
    public required IReadOnlyList<CirrusUpstream> Upstreams { get; init; }

    public SecurityPolicy Security { get; init; } = SecurityPolicy.AllowEverything;

    /// <summary><c>tuning.vetu.mtu</c>, <c>vetu run --net-host-mtu</c> unless WORKER_VETU_NET_HOST_MTU is set; 0 when not set.</summary>
    public int VetuMtu { get; init; }

    /// <summary><c>standby</c>, as the server would send it in <c>updated_standby_instances</c>.</summary>
    public StandbyInstanceParameters? Standby { get; init; }

    public IReadOnlyList<ResourceModifierConfig> ResourceModifiers { get; init; } = [];

    public TartPrePullConfig? TartPrePull { get; init; }

    /// <summary>Things worth a line at start-up that are not errors (e.g. a label overriding a reserved one).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary><c>log</c>: logrus level name, log file, rotation size in bytes, rotated files kept.</summary>
public sealed record CirrusLogConfig(string? Level = null, string? File = null, long? RotateSizeBytes = null, uint MaxRotations = 0);

/// <summary>One Cirrus server: its registration token and gRPC endpoint.</summary>
public sealed record CirrusUpstream(string Token, string Endpoint)
{
    /// <summary>
    /// Which upstream it is, for what is kept per upstream (its tasks, a drain's mark): the endpoint
    /// and a digest of the token, since pools of one Cirrus share its endpoint and the token is a secret.
    /// </summary>
    public string Identity { get; } = Endpoint + " " + Convert.ToHexStringLower(
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Token)))[..16];
}

/// <summary>
/// <c>resource-modifiers[]</c>: a task asking for no more than <see cref="Match"/> of every listed
/// resource gets <see cref="AppendRun"/> added to <c>vetu run</c> while it holds the modifier.
/// </summary>
public sealed record ResourceModifierConfig(IReadOnlyDictionary<string, double> Match, IReadOnlyList<string> AppendRun);

/// <summary><c>tart-pre-pull</c>: images pulled ahead of the standby, re-checked every interval plus a random jitter.</summary>
public sealed record TartPrePullConfig(IReadOnlyList<string> Images, TimeSpan CheckInterval, TimeSpan Jitter);
