using System.Diagnostics;
using System.Globalization;

namespace Worker.Chaos;

/// <summary>
/// The real `worker run` (worker.dll built next to this program) as a child process with its own
/// environment, its output appended to a log file, optionally inside a network namespace. It can be
/// killed with SIGKILL and started again with the same settings, as on the same host.
/// </summary>
internal sealed class ChaosWorker : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };

    private readonly Dictionary<string, string> _env;
    private readonly string? _netns;
    private Process? _process;

    public ChaosWorker(string name, Dictionary<string, string> env, string logDirectory, string httpHost = "127.0.0.1", string? netns = null)
    {
        Name = name;
        _env = env;
        _netns = netns;
        HttpAddress = $"{httpHost}:{ChaosBroker.FreePort()}";
        _env["WORKER_HTTP_ADDR"] = HttpAddress;
        LogPath = Path.Combine(logDirectory, name + ".log");
    }

    public string Name { get; }
    public string HttpAddress { get; }
    public string LogPath { get; }
    public int Starts { get; private set; }
    public int Kills { get; private set; }

    /// <summary>The worker exited by itself (it must not: only the suite's SIGKILL ends it).</summary>
    public bool ExitedOnItsOwn => _process is { HasExited: true };

    public void Start()
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        var dll = Path.Combine(AppContext.BaseDirectory, "worker.dll");
        var prefix = _netns is null ? "" : $"ip netns exec {_netns} ";
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec {prefix}dotnet '{dll}' run >> '{LogPath}' 2>&1");
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("WORKER_", StringComparison.Ordinal) || k.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        foreach (var (key, value) in _env)
        {
            start.Environment[key] = value;
        }
        _process = Process.Start(start)!;
        Starts++;
    }

    /// <summary>SIGKILL to the worker and whatever it started: no drain, no goodbye.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Kills++;
        }
    }

    /// <summary>GET /readyz: 200 once the worker takes jobs.</summary>
    public async Task<bool> ReadyAsync()
    {
        try
        {
            using var response = await Http.GetAsync(new Uri($"http://{HttpAddress}/readyz"));
            return (int)response.StatusCode == 200;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>Stops the worker with SIGTERM (it drains) and waits for it; SIGKILL after <paramref name="patience"/>.</summary>
    public async Task StopAsync(TimeSpan patience)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    /// <summary>Jobs this worker (all its starts) ran to an outcome, as its log says.</summary>
    public int JobsRun()
    {
        try
        {
            return File.ReadLines(LogPath).Count(l => l.Contains(" outcome ", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public string LogTail(int lines = 20)
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogPath).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(20));
        _process?.Dispose();
    }
}
