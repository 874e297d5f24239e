using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Worker.TestSupport;

/// <summary>What a test machine's sshd looks like.</summary>
/// <param name="Dir">The machine's folder: its config, host key and home.</param>
/// <param name="Port">The port it listens on.</param>
public sealed record TestSshdOptions(string Dir, int Port)
{
    /// <summary>A loopback address; tests that need many machines on one port give each its own 127.x.</summary>
    public string Ip { get; init; } = "127.0.0.1";

    /// <summary>The login user whose home is this machine's fresh home (root, or a user from <see cref="TestSshUsers"/>).</summary>
    public string User { get; init; } = Environment.UserName;

    /// <summary>Public keys in OpenSSH format, installed in the user's <c>~/.ssh/authorized_keys</c>.</summary>
    public IReadOnlyList<string> AuthorizedKeys { get; init; } = [];

    public bool PasswordAuthentication { get; init; }

    /// <summary>
    /// Passwords through PAM's keyboard-interactive prompts only, as macOS and many PAM set-ups ask
    /// for them (the "password" method is off).
    /// </summary>
    public bool KeyboardInteractiveOnly { get; init; }

    /// <summary>Only <see cref="User"/> may log in (sshd's AllowUsers), as on a VM image that has one account.</summary>
    public bool OnlyThisUser { get; init; }

    /// <summary>Generate another host key even if the folder has one (a machine that took over the address).</summary>
    public bool FreshHostKey { get; init; }

    /// <summary>sshd's LogLevel; what it logs is in <see cref="TestSshd.Errors"/> (DEBUG names each channel request it gets).</summary>
    public string LogLevel { get; init; } = "ERROR";

    /// <summary>ssh-keygen's <c>-t</c>: ed25519, rsa, ecdsa.</summary>
    public string HostKeyType { get; init; } = "ed25519";
}

/// <summary>
/// A test machine: a real OpenSSH sshd on a loopback address, in its own mount and PID namespace
/// (with its own /proc), whose login user's home is the machine's own fresh folder. Killing it kills
/// every process of the machine at once, as a preemption or a VM delete would. Faults: kill only the
/// sessions (the listener survives), or freeze everything (connections hang, nothing answers).
/// Needs root, openssh-server and util-linux.
/// </summary>
public sealed class TestSshd : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _errors = new();

    private TestSshd(Process process, TestSshdOptions options, string home, string hostKeyPath)
    {
        _process = process;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                _errors.Enqueue(line);
            }
        };
        Options = options;
        Home = home;
        HostKeyPath = hostKeyPath;
        HostPublicKey = string.Join(' ', File.ReadAllText(hostKeyPath + ".pub").Split(' ', StringSplitOptions.RemoveEmptyEntries)[..2]);
    }

    public TestSshdOptions Options { get; }

    /// <summary>The machine's home directory as seen from the test (the machine sees it as the user's home).</summary>
    public string Home { get; }

    public string HostKeyPath { get; }

    /// <summary>The host key as a known_hosts line wants it: <c>ssh-ed25519 AAAA...</c>.</summary>
    public string HostPublicKey { get; }

    /// <summary>The name known_hosts lists this machine under: <c>[ip]:port</c>.</summary>
    public string KnownHostsName => $"[{Options.Ip}]:{Options.Port.ToString(CultureInfo.InvariantCulture)}";

    public bool HasExited => _process.HasExited;

    /// <summary>What sshd wrote on stderr, for failure messages.</summary>
    public string Errors => string.Join("\n", _errors);

    public static async Task<TestSshd> StartAsync(TestSshdOptions options)
    {
        Directory.CreateDirectory("/run/sshd"); // sshd's privilege separation directory
        Directory.CreateDirectory(options.Dir);
        var (userHome, owner) = await AccountAsync(options.User);
        var home = Path.Combine(options.Dir, "home");
        var dotSsh = Path.Combine(home, ".ssh");
        Directory.CreateDirectory(dotSsh);
        await File.WriteAllLinesAsync(Path.Combine(dotSsh, "authorized_keys"), options.AuthorizedKeys);
        await RunAsync("chown", "-R", owner, home);
        var hostKey = Path.Combine(options.Dir, "ssh_host_key");
        if (options.FreshHostKey || !File.Exists(hostKey))
        {
            File.Delete(hostKey);
            File.Delete(hostKey + ".pub");
            await RunAsync("ssh-keygen", "-q", "-t", options.HostKeyType, "-N", "", "-f", hostKey);
        }
        var config = Path.Combine(options.Dir, "sshd_config");
        await File.WriteAllTextAsync(config, $"""
            ListenAddress {options.Ip}:{options.Port}
            HostKey {hostKey}
            PidFile none
            UsePAM {(options.KeyboardInteractiveOnly ? "yes" : "no")}
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication {(options.PasswordAuthentication && !options.KeyboardInteractiveOnly ? "yes" : "no")}
            KbdInteractiveAuthentication {(options.KeyboardInteractiveOnly ? "yes" : "no")}
            AuthorizedKeysFile .ssh/authorized_keys
            StrictModes no
            Subsystem sftp internal-sftp
            PrintMotd no
            LogLevel {options.LogLevel}
            {(options.OnlyThisUser ? "AllowUsers " + options.User : "")}

            """);
        var start = new ProcessStartInfo("unshare") { RedirectStandardError = true, RedirectStandardOutput = true };
        // --kill-child: when this process dies, sshd (PID 1 of the namespace) and every session go with it.
        // --mount-proc: the machine's pgrep and pkill see its own processes, not the host's.
        foreach (var a in new[] { "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "sh", "-c",
                     $"mount --bind '{home}' '{userHome}' && exec /usr/sbin/sshd -D -e -f '{config}'" })
        {
            start.ArgumentList.Add(a);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start sshd");
        var sshd = new TestSshd(process, options, home, hostKey);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        await sshd.WaitUntilListeningAsync();
        return sshd;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Command lines of the machine's processes other than the listening sshd.</summary>
    public IReadOnlyList<string> CommandLines()
    {
        var listener = ListenerPid();
        return [.. Descendants().Where(pid => pid != listener).Select(CommandLine).Where(c => c.Length > 0)];
    }

    /// <summary>Kills every session (each connection's sshd and what runs under it); the listener keeps accepting.</summary>
    public void KillSessions()
    {
        var listener = ListenerPid();
        Signal("KILL", Descendants().Where(pid => pid != listener));
    }

    /// <summary>Stops every process of the machine: connections stay open and nothing answers, as on a hung host.</summary>
    public void Freeze() => Signal("STOP", Descendants());

    public void Thaw() => Signal("CONT", Descendants());

    public void Dispose()
    {
        try
        {
            Thaw();
            _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }

    private int? ListenerPid()
    {
        var children = ProcessTable().Where(p => p.Parent == _process.Id).Select(p => p.Pid).ToList();
        return children.Count == 1 ? children[0] : null;
    }

    private List<int> Descendants()
    {
        var table = ProcessTable();
        var found = new List<int>();
        var frontier = new Queue<int>([_process.Id]);
        while (frontier.TryDequeue(out var parent))
        {
            foreach (var child in table.Where(p => p.Parent == parent))
            {
                found.Add(child.Pid);
                frontier.Enqueue(child.Pid);
            }
        }
        return found;
    }

    private static List<(int Pid, int Parent)> ProcessTable()
    {
        var table = new List<(int, int)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                table.Add((pid, int.Parse(rest[1], CultureInfo.InvariantCulture)));
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
        }
        return table;
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void Signal(string signal, IEnumerable<int> pids)
    {
        var list = pids.Select(p => p.ToString(CultureInfo.InvariantCulture)).ToList();
        if (list.Count == 0)
        {
            return;
        }
        var start = new ProcessStartInfo("kill") { RedirectStandardError = true };
        start.ArgumentList.Add("-" + signal);
        foreach (var pid in list)
        {
            start.ArgumentList.Add(pid);
        }
        using var kill = Process.Start(start)!;
        kill.WaitForExit();
    }

    /// <summary>The user's home directory and <c>uid:gid</c>, from the passwd database.</summary>
    private static async Task<(string Home, string Owner)> AccountAsync(string user)
    {
        var entry = (await RunAsync("getent", "passwd", user)).Trim().Split(':');
        return (entry[5], $"{entry[2]}:{entry[3]}");
    }

    private Task WaitUntilListeningAsync() =>
        Eventually.TrueAsync(async () =>
            {
                try
                {
                    using var tcp = new TcpClient();
                    await tcp.ConnectAsync(Options.Ip, Options.Port);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            },
            $"the test sshd listens on {Options.Ip}:{Options.Port}", TimeSpan.FromSeconds(10), gaveUp: () => _process.HasExited,
            explain: () => $"sshd said: {Errors}\nthese tests need root (unshare, mount), openssh-server and util-linux");

    internal static async Task<string> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
        }
        return await output;
    }
}
