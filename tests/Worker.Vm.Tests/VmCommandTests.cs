using System.Globalization;
using Worker.Core.Backends;

namespace Worker.Vm.Tests;

/// <summary>`worker exec` and `worker cleanup` on tart and vetu: the real executable with the stand-ins on PATH.</summary>
[Trait("Category", "Integration")]
public sealed class VmCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-vm-cmd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Worker_exec_of_the_hello_example_prints_the_jobs_output_and_exits_0(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var example = Path.Combine(RepoRoot(), "examples", "hello.yml");

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(OnPath(bed), _dir, "exec", example, "--backend", tool);

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("Preparing on Linux", stdout);
        Assert.Contains("Hello from job", stdout);
        Assert.Contains("the token is [secure]", stdout);
        Assert.Contains("after_script always runs", stdout);
        Assert.Contains($"(via {tool})", stdout);
        Assert.DoesNotContain("s3cr3t-value", stdout + stderr);
        Assert.All(bed.Fake.Calls, c => Assert.NotNull(c.ExitCode));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Worker_cleanup_once_deletes_this_fleets_VMs_past_their_deadline_or_held_by_no_one_and_records_left_without_a_VM_and_nothing_without_a_record(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var store = new Worker.Vm.VmRecordStore(bed.RecordDir);
        var past = DateTimeOffset.UtcNow.AddMinutes(-1);
        var future = DateTimeOffset.UtcNow.AddHours(1);
        var image = new Fakes.FakeVmImage("linux", VmTestBed.GuestUser);
        void Vm(string name, bool running = true) => bed.Fake.AddVm(name, image, running);

        Vm("expired-held");
        using var expired = store.Create("expired-held", tool, Labels(VmTestBed.Fleet, past)); // a hung worker still holds it
        Vm("live-held");
        using var live = store.Create("live-held", tool, Labels(VmTestBed.Fleet, future));
        Vm("booting-held", running: false); // cloned, not yet run
        using var booting = store.Create("booting-held", tool, Labels(VmTestBed.Fleet, future));
        Vm("abandoned");
        store.Create("abandoned", tool, Labels(VmTestBed.Fleet, future)).Release(); // its worker is gone
        Vm("abandoned-stopped", running: false);
        store.Create("abandoned-stopped", tool, Labels(VmTestBed.Fleet, future)).Release();
        Vm("other-fleet-expired");
        store.Create("other-fleet-expired", tool, Labels("other-fleet", past)).Release();
        Vm("worker-job-1-deadbeef"); // named like ours, no record: a name never decides
        // Records without their VM: a worker killed between writing one and the clone.
        store.Create("recorded-gone", tool, Labels(VmTestBed.Fleet, future)).Release();
        using var cloning = store.Create("recorded-cloning", tool, Labels(VmTestBed.Fleet, future)); // its worker clones it now
        store.Create("other-fleet-gone", tool, Labels("other-fleet", past)).Release();
        store.Create("other-tool-gone", tool == "tart" ? "vetu" : "tart", Labels(VmTestBed.Fleet, past)).Release();

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(OnPath(bed, ("WORKER_CLEANUP_DELETE_RATE", "100")), _dir, "cleanup", "--once");

        Assert.True(exit == 0, stderr);
        Assert.Equal(["booting-held", "live-held", "other-fleet-expired", "worker-job-1-deadbeef"], bed.Fake.ClonedVms);
        Assert.Contains($"Deleted {tool} machine expired-held", stderr);
        Assert.Contains($"Deleted {tool} machine abandoned (Running): no live worker process holds it", stderr);
        Assert.Contains($"Deleted {tool} machine abandoned-stopped (Stopped): no live worker process holds it", stderr);
        Assert.Contains($"Keeping {tool} machine live-held", stderr);
        Assert.Contains($"Keeping {tool} machine booting-held (Stopped): its job may still be running", stderr);
        Assert.Contains($"Keeping {tool} machine other-fleet-expired", stderr);
        Assert.DoesNotContain("worker-job-1-deadbeef", stderr);
        Assert.Contains($"Deleted {tool} machine recorded-gone (Gone): only its record is left", stderr);
        Assert.Contains($"Keeping {tool} machine recorded-cloning (Gone): only its record exists, and a live worker process holds it", stderr);
        Assert.Contains($"Keeping {tool} machine other-fleet-gone", stderr);
        Assert.DoesNotContain("other-tool-gone", stderr);
        Assert.Equal(["booting-held", "live-held", "other-fleet-expired", "other-fleet-gone", "other-tool-gone", "recorded-cloning"],
            Directory.GetFiles(bed.RecordDir, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(bed.RecordDir, "recorded-gone.lock")));
        // Running VMs are stopped before they are deleted.
        Assert.Contains(bed.Fake.CallsOf("stop"), c => c.Arguments.Contains("abandoned"));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Worker_cleanup_once_removes_lock_files_with_no_record_and_half_written_records_that_no_process_holds_and_a_dry_run_only_names_them(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var stray = bed.LeaveLockFile("worker-job-5-0badf00d"); // its worker was killed before it wrote the record
        var held = bed.LockPath("worker-job-6-feedf00d");
        await using var making = await LockHolder.StartAsync(held); // a worker that writes the record now
        var halfWritten = bed.LeaveHalfWrittenRecord("worker-job-7-1a2b3c4d"); // its worker was killed while it wrote the record
        var why = "a lock file with no record, or a record left half-written, of a VM no live process holds";

        var (dryExit, _, dryStderr, _) = await WorkerProcess.RunAsync(OnPath(bed), _dir, "cleanup", "--once", "--dry-run");
        Assert.True(File.Exists(stray));
        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(OnPath(bed), _dir, "cleanup", "--once");

        Assert.True(dryExit == 0, dryStderr);
        Assert.Contains($"Would remove {tool} leftover file {stray} (dry run): {why}", dryStderr);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"Removed {tool} leftover file {stray}: {why}", stderr);
        Assert.Contains($"Would remove {tool} leftover file {halfWritten} (dry run): {why}", dryStderr);
        Assert.Contains($"Removed {tool} leftover file {halfWritten}: {why}", stderr);
        Assert.False(File.Exists(stray));
        Assert.False(File.Exists(halfWritten));
        Assert.True(File.Exists(held));
        Assert.DoesNotContain(held, dryStderr + stderr);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Worker_exec_with_a_standby_leaves_no_standby_VM_behind_when_it_exits(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var job = Path.Combine(_dir, "job.yml");
        await File.WriteAllTextAsync(job, "script: [ 'true' ]");

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(OnPath(bed, ($"WORKER_{tool.ToUpperInvariant()}_STANDBY", "1")), _dir, "exec", job, "--backend", tool);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains(bed.Fake.CallsOf("clone"), c => c.Arguments[2].StartsWith("worker-standby-", StringComparison.Ordinal));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_VM_whose_worker_was_killed_mid_job_is_deleted_by_the_next_cleanup(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var job = Path.Combine(_dir, "job.yml");
        await File.WriteAllTextAsync(job, "script: [ 'echo ready', 'sleep 120' ]");
        await using (var worker = WorkerProcess.Start(OnPath(bed), _dir, "exec", job, "--backend", tool))
        {
            await Eventually.TrueAsync(() => worker.Stdout.Contains("ready", StringComparison.Ordinal), "the job runs on its VM",
                TimeSpan.FromSeconds(60), gaveUp: () => worker.HasExited, explain: () => worker.Stdout + worker.Stderr);
            // Only the worker: its tart/vetu run goes on, as after a crash.
            worker.Signal("KILL");
            await worker.WaitAsync(TimeSpan.FromSeconds(30));
        }
        var left = Assert.Single(bed.Fake.ClonedVms);
        Assert.Equal([left], bed.Fake.RunningVms);

        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(OnPath(bed), _dir, "cleanup", "--once");

        Assert.True(exit == 0, stderr);
        Assert.Contains($"Deleted {tool} machine {left} (Running): no live worker process holds it", stderr);
        VmFaultTests.AssertNothingLeft(bed);
    }

    /// <summary>The bed's settings, with the stand-in found on PATH rather than through WORKER_*_PATH.</summary>
    private static Dictionary<string, string> OnPath(VmTestBed bed, params (string Key, string Value)[] extra)
    {
        var env = bed.Variables();
        env.Remove($"WORKER_{bed.Tool.ToUpperInvariant()}_PATH");
        env["WORKER_LOG_LEVEL"] = "information";
        env["PATH"] = bed.Fake.BinDirectory + ":" + Environment.GetEnvironmentVariable("PATH");
        foreach (var (key, value) in extra)
        {
            env[key] = value;
        }
        return env;
    }

    private static Dictionary<string, string> Labels(string fleet, DateTimeOffset deadline) => new()
    {
        [MachineLabels.Fleet] = fleet,
        [MachineLabels.JobId] = "17",
        [MachineLabels.Host] = VmTestBed.Host,
        [MachineLabels.CreatedAt] = deadline.AddHours(-2).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        [MachineLabels.Deadline] = deadline.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
    };

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Worker.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Worker.sln not found above " + AppContext.BaseDirectory);
    }
}
