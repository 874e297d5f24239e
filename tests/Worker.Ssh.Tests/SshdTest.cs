namespace Worker.Ssh.Tests;

/// <summary>
/// A test with real sshds on loopback ports: its own folder, the two login users (one logs in with a
/// key, one with a password), and the machines and connections it made, all cleaned up after it.
/// </summary>
public abstract class SshdTest : IAsyncLifetime
{
    protected const string Password = "worker-ssh-test-pw";

    private readonly List<TestSshd> _sshds = [];
    private readonly List<SshMachine> _machines = [];

    protected string Dir { get; } = Directory.CreateTempSubdirectory("worker-ssh-").FullName;

    protected string KeyUser { get; private set; } = "";

    protected string PasswordUser { get; private set; } = "";

    /// <summary>The job's key, installed for <see cref="KeyUser"/> on every machine the test starts.</summary>
    protected SshKeyPair Key { get; } = SshKeyPair.Create();

    /// <summary>What the transport logged (one line per failed attempt, among others).</summary>
    protected ListLoggerProvider Logged { get; } = new();

    /// <summary>How many logged lines contain <paramref name="text"/>, read while the transport may still write.</summary>
    protected int LoggedLines(string text)
    {
        lock (Logged.Lines)
        {
            return Logged.Lines.Count(l => l.Contains(text, StringComparison.Ordinal));
        }
    }

    /// <summary>Everything logged so far, for a failure to explain itself.</summary>
    protected string LoggedText()
    {
        lock (Logged.Lines)
        {
            return string.Join("\n", Logged.Lines);
        }
    }

    /// <summary>Short pauses, a few attempts: a test that fails should fail soon.</summary>
    protected static SshConnectOptions Options { get; } = new() { RetryPause = TimeSpan.FromMilliseconds(100), MaxAttempts = 3 };

    public async Task InitializeAsync()
    {
        KeyUser = await TestSshUsers.KeyUserAsync("worker-ssh-key");
        PasswordUser = await TestSshUsers.PasswordUserAsync("worker-ssh-pass", Password);
    }

    public async Task DisposeAsync()
    {
        await BeforeDisposeAsync();
        foreach (var machine in _machines)
        {
            await machine.DisposeAsync();
        }
        foreach (var sshd in _sshds)
        {
            sshd.Dispose();
        }
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Ends what a test started on top of the machines (e.g. processors running jobs on them), before they go.</summary>
    protected virtual Task BeforeDisposeAsync() => Task.CompletedTask;

    /// <summary>A machine for <paramref name="user"/> (default: the key user) on a free port, with <see cref="Key"/> installed.</summary>
    protected async Task<TestSshd> StartSshdAsync(string? user = null, int? port = null, string name = "vm", bool freshHostKey = false,
        string hostKeyType = "ed25519", IReadOnlyList<string>? authorizedKeys = null, Func<TestSshdOptions, TestSshdOptions>? configure = null)
    {
        var options = new TestSshdOptions(Path.Combine(Dir, name), port ?? TestSshd.FreePort())
        {
            User = user ?? KeyUser,
            AuthorizedKeys = authorizedKeys ?? [Key.PublicKey],
            PasswordAuthentication = true,
            FreshHostKey = freshHostKey,
            HostKeyType = hostKeyType,
        };
        var sshd = await TestSshd.StartAsync(configure?.Invoke(options) ?? options);
        _sshds.Add(sshd);
        return sshd;
    }

    /// <summary>The transport to <paramref name="sshd"/> as the key user, unless told otherwise.</summary>
    protected SshMachine Connect(TestSshd sshd, string? user = null, SshCredential? credential = null, HostKeyPolicy? hostKeys = null,
        SshConnectOptions? options = null) =>
        Connect(sshd.Options.Ip, sshd.Options.Port, user, credential, hostKeys, options);

    protected SshMachine Connect(string ip, int port, string? user = null, SshCredential? credential = null, HostKeyPolicy? hostKeys = null,
        SshConnectOptions? options = null)
    {
        var machine = new SshMachine(new SshEndpoint(ip, port, user ?? KeyUser), credential ?? SshCredential.FromKey(Key),
            hostKeys ?? HostKeyPolicy.PinFirstKey(), options ?? Options, Logged.CreateLogger("ssh"));
        _machines.Add(machine);
        return machine;
    }

    /// <summary>Uploads <paramref name="script"/> as <c>job.sh</c> and runs it, its output in <paramref name="log"/>.</summary>
    protected static async Task<SshRunResult> RunAsync(SshMachine machine, string script, CollectingLog log, bool pty = false,
        CancellationToken ct = default)
    {
        await machine.UploadAsync("job.sh", System.Text.Encoding.UTF8.GetBytes(script), null, ct);
        return await machine.RunScriptAsync(new RemoteScript("job.sh") { Pty = pty }, log, ct);
    }

    /// <summary>A marker no other process carries, for a background process whose end the test checks.</summary>
    protected static string Marker() => "worker-ssh-test-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// Starts a process named <paramref name="marker"/> (bash's <c>exec -a</c>) in a process group of
    /// its own (<c>set -m</c>) that ignores hang-ups and TERM: only killing the whole session ends it.
    /// </summary>
    protected static string Leftover(string marker) => $"set -m; (trap '' HUP TERM; exec -a {marker} sleep 600) &";
}
