using System.Diagnostics;
using System.Net.Sockets;

namespace Worker.Gce.Tests.Fakes;

/// <summary>
/// The "VM" behind a fake Compute instance: a real OpenSSH sshd on its own loopback address, in its
/// own mount and PID namespace, whose /root is the VM's own empty home. It accepts only the keys
/// the backend put in the instance's <c>ssh-keys</c> metadata. Killing it kills every process of
/// the VM at once, as a preemption or a delete would.
/// </summary>
public sealed class FakeVmSshd : IDisposable
{
    private readonly Process _process;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();

    private FakeVmSshd(Process process, string home, string hostKeyPath)
    {
        _process = process;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                _errors.Enqueue(line);
            }
        };
        Home = home;
        HostKeyPath = hostKeyPath;
    }

    /// <summary>The VM's home directory as seen from the test (the VM sees it as /root).</summary>
    public string Home { get; }

    public string HostKeyPath { get; }

    public bool HasExited => _process.HasExited;

    /// <param name="dir">The VM's folder: config, keys and home.</param>
    /// <param name="authorizedKeys">Public keys in OpenSSH format.</param>
    /// <param name="freshHostKey">Generate another host key even if the folder has one.</param>
    public static async Task<FakeVmSshd> StartAsync(string dir, string ip, int port, IEnumerable<string> authorizedKeys, bool freshHostKey = false)
    {
        Directory.CreateDirectory("/run/sshd"); // sshd's privilege separation directory
        var home = Path.Combine(dir, "home");
        Directory.CreateDirectory(home);
        var hostKey = Path.Combine(dir, "ssh_host_ed25519_key");
        if (freshHostKey || !File.Exists(hostKey))
        {
            File.Delete(hostKey);
            File.Delete(hostKey + ".pub");
            await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey);
        }
        var keys = Path.Combine(dir, "authorized_keys");
        await File.WriteAllLinesAsync(keys, authorizedKeys);
        var config = Path.Combine(dir, "sshd_config");
        await File.WriteAllTextAsync(config, $"""
            ListenAddress {ip}:{port}
            HostKey {hostKey}
            PidFile none
            UsePAM no
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            AuthorizedKeysFile {keys}
            StrictModes no
            Subsystem sftp internal-sftp
            PrintMotd no
            LogLevel ERROR

            """);
        var start = new ProcessStartInfo("unshare") { RedirectStandardError = true, RedirectStandardOutput = true };
        // --kill-child: when this process dies, sshd (PID 1 of the namespace) and every session go with it.
        foreach (var a in new[] { "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "sh", "-c",
                     $"mount --bind '{home}' /root && exec /usr/sbin/sshd -D -e -f '{config}'" })
        {
            start.ArgumentList.Add(a);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start sshd");
        var vm = new FakeVmSshd(process, home, hostKey);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        await vm.WaitUntilListeningAsync(ip, port);
        return vm;
    }

    public void Dispose()
    {
        try
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }

    private async Task WaitUntilListeningAsync(string ip, int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(ip, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(20);
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException(
                    $"the fake VM's sshd on {ip}:{port} did not come up ({string.Join(" / ", _errors)}); " +
                    "these tests need root (unshare, mount), openssh-server and util-linux", e);
            }
        }
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} failed: {error}");
        }
    }
}
