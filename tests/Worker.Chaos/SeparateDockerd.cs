using System.Diagnostics;
using System.Globalization;

namespace Worker.Chaos;

/// <summary>
/// A dockerd of the suite's own (its own socket, data root, exec root and bridge, no iptables
/// rules), so restarting it disturbs no one else's containers. Never <c>--bridge none</c>: a daemon
/// started so deletes the host's docker0, the shared engine's bridge. The job image is loaded into it
/// from the shared engine once; its data root is kept for the next run.
/// </summary>
internal sealed class SeparateDockerd : IAsyncDisposable
{
    private const string Socket = "/run/worker-chaos-dockerd.sock";
    private const string PidFile = "/run/worker-chaos-dockerd.pid";
    private const string Bridge = "chaosbr0";
    private readonly string _log;
    private Process? _process;

    private SeparateDockerd(string log) => _log = log;

    public static string Host => "unix://" + Socket;

    public static async Task<SeparateDockerd> StartAsync(string logDirectory, string image)
    {
        var dockerd = new SeparateDockerd(Path.Combine(logDirectory, "dockerd.log"));
        await StopLeftoverAsync();
        if ((await DockerLeftovers.RunAsync("ip", ["link", "show", Bridge], [])).Exit != 0)
        {
            await DockerLeftovers.RunAsync("ip", ["link", "add", Bridge, "type", "bridge"], []);
            await DockerLeftovers.RunAsync("ip", ["addr", "add", "10.232.77.1/24", "dev", Bridge], []);
            await DockerLeftovers.RunAsync("ip", ["link", "set", Bridge, "up"], []);
        }
        await dockerd.StartDaemonAsync();
        if ((await DockerLeftovers.RunAsync("docker", ["-H", Host, "image", "inspect", image], [])).Exit != 0)
        {
            var (exit, output) = await DockerLeftovers.RunAsync("/bin/sh", ["-c", $"docker save '{image}' | docker -H '{Host}' load"], []);
            if (exit != 0)
            {
                throw new InvalidOperationException($"could not load {image} into the suite's dockerd: {output}");
            }
        }
        return dockerd;
    }

    /// <summary>Stops the daemon as a service restart would (SIGTERM: it stops the running containers) and starts it again.</summary>
    public async Task RestartAsync()
    {
        await StopDaemonAsync();
        await StartDaemonAsync();
    }

    private async Task StartDaemonAsync()
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec dockerd --host {Host} --data-root /var/lib/worker-chaos-dockerd --exec-root /run/worker-chaos-dockerd " +
            $"--pidfile {PidFile} --bridge {Bridge} --iptables=false --ip6tables=false >> '{_log}' 2>&1");
        _process = Process.Start(start)!;
        var waited = Stopwatch.StartNew();
        while ((await DockerLeftovers.RunAsync("docker", ["-H", Host, "info"], [])).Exit != 0)
        {
            if (_process.HasExited || waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"the suite's dockerd did not start; see {_log}");
            }
            await Task.Delay(500);
        }
    }

    private async Task StopDaemonAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            await process.WaitForExitAsync();
        }
    }

    /// <summary>A daemon a crashed run of the suite left behind.</summary>
    private static async Task StopLeftoverAsync()
    {
        if (File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile).Trim(), out var pid))
        {
            try
            {
                using var old = Process.GetProcessById(pid);
                if (old.ProcessName == "dockerd")
                {
                    old.Kill();
                    await old.WaitForExitAsync();
                }
            }
            catch (ArgumentException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopDaemonAsync();
        _process?.Dispose();
    }
}
