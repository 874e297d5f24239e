using Worker.Core.Configuration;

namespace Worker.Ssh.BareMetal;

/// <summary>
/// Settings of the SSH backend, <c>WORKER_SSH_*</c>: a pool of existing hosts (Mac minis, dedicated
/// machines) that each run one job at a time, how to log in to them and how their keys are checked.
/// </summary>
public sealed record SshOptions
{
    public const string InsecureWarning =
        "WORKER_SSH_INSECURE_ACCEPT_ANY_HOST_KEY=true: the SSH hosts' keys are not checked, so whoever answers at a host's address " +
        "gets the job's script and secrets. List the hosts' keys in WORKER_SSH_KNOWN_HOSTS instead.";

    public static readonly Setting<IReadOnlyList<SshHostAddress>> Hosts = new("SSH_HOSTS", Array.Empty<SshHostAddress>(),
        "Hosts jobs run on, one job per host at a time (WORKER_POOL_SIZE is capped at their number). Required with WORKER_PROVIDER_NAME=ssh.",
        "a comma-separated list of [user@]host[:port], an IPv6 address in brackets when it has a port",
        ParseHosts, hosts => string.Join(",", hosts));
    public static readonly Setting<string?> User = Setting.OptionalText("SSH_USER",
        "Login user on the hosts whose WORKER_SSH_HOSTS entry names none.", "a user name");
    public static readonly Setting<string?> KeyPath = Setting.OptionalText("SSH_KEY_PATH",
        "Private key file the worker logs in with (OpenSSH, PKCS#1/#8 or PuTTY format). Set this or WORKER_SSH_PASSWORD.",
        "a path to a private key file");
    public static readonly Setting<string?> KeyPassphrase = Setting.OptionalText("SSH_KEY_PASSPHRASE",
        "Passphrase of an encrypted WORKER_SSH_KEY_PATH.", secret: true);
    public static readonly Setting<string?> Password = Setting.OptionalText("SSH_PASSWORD",
        "Password the worker logs in with, also given to keyboard-interactive prompts (PAM, macOS). Set this or WORKER_SSH_KEY_PATH.",
        secret: true);
    public static readonly Setting<string?> KnownHosts = Setting.OptionalText("SSH_KNOWN_HOSTS",
        "known_hosts file (OpenSSH format: patterns, [host]:port, hashed names, @revoked) that must list a key for every host. " +
        "Required unless WORKER_SSH_INSECURE_ACCEPT_ANY_HOST_KEY=true.",
        "a path to a known_hosts file");
    public static readonly Setting<bool> InsecureAcceptAnyHostKey = Setting.Bool("SSH_INSECURE_ACCEPT_ANY_HOST_KEY", false,
        "Accept any host key (unsafe: whoever answers at a host's address gets the jobs); warned at start and in every job's log.");
    public static readonly Setting<string> BuildRoot = new("SSH_BUILD_ROOT", "worker-builds",
        "Folder on each host under which every job gets a fresh directory, removed after the job; relative to the login directory unless absolute.",
        "a path without newlines", text => text.Length > 0 && !text.Any(char.IsControl) ? (true, text) : (false, ""), v => v);
    public static readonly Setting<TimeSpan> HostRetry = Setting.Duration("SSH_HOST_RETRY", TimeSpan.FromMinutes(1),
        "How long a host that refused or dropped a connection is set aside; its job is requeued (or starts on another free host) meanwhile.");
    public static readonly Setting<TimeSpan> ConnectTimeout = Setting.Duration("SSH_CONNECT_TIMEOUT", TimeSpan.FromSeconds(10),
        "Longest the TCP connect and SSH greeting may take, and again the key exchange and login; a host that takes longer is set aside.");

    public static IReadOnlyList<ISetting> All { get; } =
        [Hosts, User, KeyPath, KeyPassphrase, Password, KnownHosts, InsecureAcceptAnyHostKey, BuildRoot, HostRetry, ConnectTimeout];

    /// <summary>The hosts, each with its login user.</summary>
    public required IReadOnlyList<SshEndpoint> Endpoints { get; init; }

    public required SshCredential Credential { get; init; }

    /// <summary>The known_hosts list, or <see cref="HostKeyPolicy.AcceptAnyKey"/> when the operator turned the check off.</summary>
    public required HostKeyPolicy HostKeys { get; init; }

    public bool AcceptsAnyHostKey => ReferenceEquals(HostKeys, HostKeyPolicy.AcceptAnyKey);

    /// <summary>Relative to the login directory unless absolute; never ends in '/'.</summary>
    public string Root { get; init; } = BuildRoot.Default;

    public TimeSpan SetAsideFor { get; init; } = HostRetry.Default;

    public TimeSpan Timeout { get; init; } = ConnectTimeout.Default;

    /// <summary>
    /// SSH to a host that is meant to be up: two attempts, since a host that refuses is set aside and
    /// another one tried; a refused login is not tried again (the host is set up, not booting).
    /// </summary>
    public SshConnectOptions Connect => new()
    {
        DialTimeout = Timeout,
        HandshakeTimeout = Timeout,
        RetryPause = TimeSpan.FromMilliseconds(500),
        MaxAttempts = 2,
        KillTimeout = Timeout + Timeout,
    };

    /// <summary>Reads and checks the settings; anything missing or unusable stops start-up with one line naming the variable.</summary>
    public static SshOptions Load(SettingsSource source)
    {
        var hosts = Hosts.Read(source);
        if (hosts.Count == 0)
        {
            throw new InvalidSettingException(VariableOf(source, Hosts), "", "at least one host, as " + Hosts.Allowed);
        }
        var user = User.Read(source);
        if (user is null && hosts.FirstOrDefault(h => h.User is null) is { } nameless)
        {
            throw new InvalidSettingException(VariableOf(source, User), "", $"a login user for the hosts that name none ({nameless})");
        }
        var endpoints = hosts.Select(h => h.Endpoint(user)).ToList();
        if (endpoints.GroupBy(e => e).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new InvalidSettingException(VariableOf(source, Hosts), source.Find(Hosts.Key)?.Value, $"each host once ({twice.Key} is listed twice)");
        }
        var insecure = InsecureAcceptAnyHostKey.Read(source);
        return new SshOptions
        {
            Endpoints = endpoints,
            Credential = LoadCredential(source),
            HostKeys = insecure ? HostKeyPolicy.AcceptAnyKey : LoadKnownHosts(source, endpoints),
            Root = NormalizeRoot(BuildRoot.Read(source)),
            SetAsideFor = HostRetry.Read(source),
            Timeout = ConnectTimeout.Read(source),
        };
    }

    private static SshCredential LoadCredential(SettingsSource source)
    {
        var keyPath = KeyPath.Read(source);
        var password = Password.Read(source);
        if (keyPath is not null && password is not null)
        {
            throw new InvalidSettingException(VariableOf(source, Password), password, "empty when WORKER_SSH_KEY_PATH is set: the worker logs in with one of them", secret: true);
        }
        if (password is not null)
        {
            return SshCredential.FromPassword(password);
        }
        if (keyPath is null)
        {
            throw new InvalidSettingException(VariableOf(source, KeyPath), "", "a private key file the worker logs in with, or set WORKER_SSH_PASSWORD");
        }
        try
        {
            return SshCredential.FromKeyFile(keyPath, KeyPassphrase.Read(source));
        }
        catch (ArgumentException e)
        {
            throw new InvalidSettingException(VariableOf(source, KeyPath), keyPath, $"a private key file this worker can read ({e.InnerException?.Message ?? e.Message})");
        }
    }

    private static KnownHosts LoadKnownHosts(SettingsSource source, IReadOnlyList<SshEndpoint> endpoints)
    {
        var variable = VariableOf(source, KnownHosts);
        var path = KnownHosts.Read(source)
            ?? throw new InvalidSettingException(variable, "",
                "a known_hosts file listing every host's key (WORKER_SSH_INSECURE_ACCEPT_ANY_HOST_KEY=true skips the check, unsafely)");
        KnownHosts list;
        try
        {
            list = Ssh.KnownHosts.Load(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new InvalidSettingException(variable, path, $"a readable known_hosts file ({e.Message})");
        }
        if (endpoints.FirstOrDefault(e => !list.ListsKeyFor(e)) is { } unlisted)
        {
            throw new InvalidSettingException(variable, path, $"a known_hosts file listing a key for every host; none for {Ssh.KnownHosts.NameOf(unlisted)}");
        }
        return list;
    }

    /// <summary>A leading <c>~/</c> means the login directory, which a relative path already is (the path is quoted, so no shell expands it).</summary>
    private static string NormalizeRoot(string root)
    {
        root = root.Trim();
        if (root == "~")
        {
            return ".";
        }
        if (root.StartsWith("~/", StringComparison.Ordinal))
        {
            root = root[2..];
        }
        root = root.TrimEnd('/');
        return root.Length == 0 ? "/" : root;
    }

    private static (bool, IReadOnlyList<SshHostAddress>) ParseHosts(string text)
    {
        var hosts = new List<SshHostAddress>();
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!SshHostAddress.TryParse(entry, out var host))
            {
                return (false, hosts);
            }
            hosts.Add(host);
        }
        return (true, hosts);
    }

    private static string VariableOf(SettingsSource source, ISetting setting) =>
        source.Find(setting.Key)?.Variable ?? SettingsSource.Prefix + setting.Key;
}
