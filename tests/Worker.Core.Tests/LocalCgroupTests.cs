using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>
/// Each local job in a cgroup of its own on the real host (these machines offer cgroup v2 and v1
/// with pids and freezer; the worker needs root to make cgroups): nothing a script starts outlives
/// its job, not even a process in a session of its own, which the session kill can't reach.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LocalCgroupTests : IDisposable
{
    private readonly string _baseDir = Directory.CreateTempSubdirectory("worker-local-cgroup-").FullName;

    // A sleep no other test starts, so the processes looked for are this test's.
    private readonly string _sleep = "sleep 1000." + Random.Shared.Next(100_000, 999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose()
    {
        // What escaped (the test of the session-only fallback, or a failure) goes here.
        foreach (var pid in HostProcesses.WithCommandLine(_sleep))
        {
            ProcessSession.KillProcess(pid);
        }
        Directory.Delete(_baseDir, recursive: true);
    }

    /// <summary>Script lines that leave the sleep behind in a session of its own, once it is surely there.</summary>
    private string LeaveBehind(string redirect, string then = "echo left one behind") =>
        $"script: [\"setsid sh -c 'echo in-own-session > escaped; exec {_sleep}' {redirect}&\", \"until [ -s escaped ]; do sleep 0.1; done\", \"{then}\"]";

    private PipelineHarness Harness(string cgroup) =>
        new(new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, new LocalOptions { CgroupVersion = cgroup }));

    [Theory]
    [InlineData(CgroupHost.V2)]
    [InlineData(CgroupHost.V1)]
    public async Task A_process_in_a_session_of_its_own_does_not_outlive_the_job(string cgroup)
    {
        var (_, verdict) = await Harness(cgroup).RunAsync(LeaveBehind("> /dev/null 2>&1 "));

        Assert.Equal(FinishState.Passed, verdict.State);
        Assert.False(HostProcesses.Running(_sleep), $"'{_sleep}' outlived its job");
    }

    [Theory]
    [InlineData(CgroupHost.V2)]
    [InlineData(CgroupHost.V1)]
    public async Task A_process_in_a_session_of_its_own_holding_the_output_neither_outlives_nor_holds_up_the_job(string cgroup)
    {
        var (job, verdict) = await Harness(cgroup).RunAsync(LeaveBehind(""));

        Assert.Equal(FinishState.Passed, verdict.State);
        Assert.DoesNotContain("outlived it", job.Log);
        Assert.False(HostProcesses.Running(_sleep), $"'{_sleep}' outlived its job");
    }

    [Fact]
    public async Task A_timed_out_job_leaves_no_process_of_its_own_session_behind()
    {
        var (_, verdict) = await Harness(CgroupHost.Auto).RunAsync(LeaveBehind("> /dev/null 2>&1 ", then: "sleep 300") + "\ntimeout: 3s");

        Assert.Equal(FinishState.Errored, verdict.State);
        Assert.False(HostProcesses.Running(_sleep), $"'{_sleep}' outlived its job");
    }

    [Fact]
    public async Task Without_a_cgroup_a_process_in_a_session_of_its_own_escapes_but_does_not_hold_up_the_job()
    {
        var (job, verdict) = await Harness(CgroupHost.Off).RunAsync(LeaveBehind(""));

        Assert.Equal(FinishState.Passed, verdict.State);
        Assert.Contains("A process the script started outlived it and still holds its output", job.Log);
        Assert.True(HostProcesses.Running(_sleep), "the session kill reached a process in a session of its own after all: README says it escapes");
    }

    [Fact]
    public void Auto_picks_cgroup_v2_where_the_host_offers_it()
    {
        var backend = new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, new LocalOptions());

        Assert.StartsWith("cgroup v2 under ", backend.Containment);
    }
}
