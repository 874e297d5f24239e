using System.Diagnostics;

namespace Worker.Tests;

/// <summary>
/// tests/dockerd-watchdog.sh, which tests/run.sh runs beside the tests: it must tell dockerd 20.10's
/// libnetwork deadlock (a goroutine in processEndpointDelete and one in getSvcRecords, each waiting on
/// a mutex) from a dockerd that is only busy, in goroutine dumps as dockerd writes them on SIGUSR1.
/// </summary>
public sealed class DockerdWatchdogScriptTests : IDisposable
{
    private const string Root = "/build/docker.io-20.10.24+dfsg1/_build/src/github.com/docker/docker";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Goroutine(int id, string state, params string[] functions) =>
        $"goroutine {id} [{state}]:\n" + string.Concat(functions.Select((f, i) =>
            $"{f}(0xc000{i:x4})\n\t{Root}/vendor/github.com/docker/libnetwork/x.go:{100 + i} +0x{i:x2}\n")) + "\n";

    private static readonly string Idle = Goroutine(1, "chan receive, 15 minutes", "main.(*DaemonCli).start", "main.runDaemon");

    private static readonly string EndpointDelete = Goroutine(812, "semacquire, 3 minutes",
        "sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow", "sync.(*Mutex).Lock",
        "github.com/docker/docker/vendor/github.com/docker/libnetwork.(*network).ID",
        "github.com/docker/docker/vendor/github.com/docker/libnetwork.(*controller).processEndpointDelete",
        "github.com/docker/docker/vendor/github.com/docker/libnetwork.(*controller).watchLoop");

    private static readonly string SvcRecords = Goroutine(4471, "semacquire, 3 minutes",
        "sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow", "sync.(*Mutex).Lock",
        "github.com/docker/docker/vendor/github.com/docker/libnetwork.(*network).getSvcRecords",
        "github.com/docker/docker/vendor/github.com/docker/libnetwork.(*endpoint).sbLeave",
        "github.com/docker/docker/vendor/github.com/docker/libnetwork.(*endpoint).Leave");

    private (int Exit, string Output) Stuck(string dump) => Script("--stuck", dump);

    private (int Exit, string Output) Script(string mode, string dump)
    {
        var file = _dir.Write("goroutine-stacks.log", dump);
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(TerraformConfiguration.RepositoryRoot, "tests", "dockerd-watchdog.sh"));
        start.ArgumentList.Add(mode);
        start.ArgumentList.Add(file);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Trim());
    }

    [Fact]
    public void The_two_goroutines_waiting_on_each_others_lock_are_named()
    {
        Assert.Equal((0, "812|4471"), Stuck(Idle + EndpointDelete + SvcRecords));
    }

    [Fact]
    public void The_wait_state_of_newer_go_releases_counts_too()
    {
        Assert.Equal((0, "812|4471"), Stuck(Idle + EndpointDelete.Replace("semacquire", "sync.Mutex.Lock") + SvcRecords));
    }

    [Fact]
    public void One_side_alone_is_a_busy_daemon_not_a_deadlock()
    {
        Assert.Equal(1, Stuck(Idle + EndpointDelete).Exit);
        Assert.Equal(1, Stuck(Idle + SvcRecords).Exit);
    }

    [Fact]
    public void The_report_counts_the_goroutines_that_waited_a_minute_or_more_by_state_and_first_frame_outside_the_runtime()
    {
        var waitingForNetworks = string.Concat(Enumerable.Range(0, 3).Select(i => Goroutine(9000 + i, "semacquire, 2 minutes",
            "sync.runtime_SemacquireMutex", "sync.(*Mutex).Lock",
            "github.com/docker/docker/vendor/github.com/docker/libnetwork.(*controller).getStores",
            "github.com/docker/docker/daemon.(*Daemon).FindNetwork")));
        var brief = Goroutine(77, "semacquire", "sync.runtime_SemacquireMutex", "github.com/docker/docker/daemon.(*Daemon).ContainerStart");

        var (exit, output) = Script("--waiting", Idle + EndpointDelete + SvcRecords + waitingForNetworks + brief);

        Assert.Equal(0, exit);
        var lines = output.Split('\n').Select(l => l.Trim()).ToList();
        Assert.Equal("3  semacquire  github.com/docker/docker/vendor/github.com/docker/libnetwork.(*controller).getStores", lines[0]);
        Assert.Contains("1  semacquire  github.com/docker/docker/vendor/github.com/docker/libnetwork.(*network).ID", lines);
        Assert.Contains("1  semacquire  github.com/docker/docker/vendor/github.com/docker/libnetwork.(*network).getSvcRecords", lines);
        Assert.Contains("1  chan receive  main.(*DaemonCli).start", lines);
        Assert.DoesNotContain(lines, l => l.Contains("ContainerStart", StringComparison.Ordinal)); // waited under a minute
    }

    [Fact]
    public void A_goroutine_that_runs_through_processEndpointDelete_is_not_stuck_there()
    {
        Assert.Equal(1, Stuck(Idle + EndpointDelete.Replace("semacquire, 3 minutes", "runnable") + SvcRecords).Exit);
    }
}
