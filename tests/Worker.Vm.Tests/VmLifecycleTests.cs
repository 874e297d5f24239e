using System.Text.Json;
using Worker.Core.Backends;

namespace Worker.Vm.Tests;

/// <summary>The VM's record and lock, the run-arguments lease, and the probe, on both tools.</summary>
[Trait("Category", "Integration")]
public sealed class VmLifecycleTests
{
    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task The_record_is_written_and_held_before_the_clone_and_gone_after_the_delete(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend();
        string? recordAtClone = null;
        var heldAtClone = false;
        bed.Fake.OnCall = call =>
        {
            if (call.Arguments[0] == "clone")
            {
                var path = Path.Combine(bed.RecordDir, call.Arguments[2] + ".json");
                recordAtClone = File.Exists(path) ? File.ReadAllText(path) : null;
                heldAtClone = backend.Records.IsHeld(call.Arguments[2]);
            }
        };

        var instance = await backend.StartAsync(bed.Attributes(jobId: 31), bed.ProgressSink(), CancellationToken.None);
        Assert.True(backend.Records.IsHeld(instance.Id));
        await instance.StopAsync(CancellationToken.None);

        Assert.NotNull(recordAtClone);
        Assert.True(heldAtClone);
        var labels = JsonDocument.Parse(recordAtClone).RootElement.GetProperty("Labels");
        Assert.Equal(VmTestBed.Fleet, labels.GetProperty(MachineLabels.Fleet).GetString());
        Assert.Equal("31", labels.GetProperty(MachineLabels.JobId).GetString());
        Assert.Equal(VmTestBed.Host, labels.GetProperty(MachineLabels.Host).GetString());
        Assert.True(labels.TryGetProperty(MachineLabels.CreatedAt, out _));
        Assert.True(labels.TryGetProperty(MachineLabels.Deadline, out _));
        Assert.Equal(Environment.ProcessId, JsonDocument.Parse(recordAtClone).RootElement.GetProperty("Pid").GetInt32());
        Assert.False(backend.Records.IsHeld(instance.Id));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_new_backend_removes_the_lock_files_with_no_record_and_the_half_written_records_that_no_process_holds(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var killedBeforeRecord = bed.LeaveLockFile("worker-job-5-0badf00d");
        var killedMidJob = bed.LeaveLockFile("worker-job-7-1a2b3c4d"); // its VM is cleanup's to judge, with its record
        File.WriteAllText(Path.Combine(bed.RecordDir, "worker-job-7-1a2b3c4d.json"), "{}");
        var killedMidWrite = bed.LeaveHalfWrittenRecord("worker-job-8-5e6f7a8b");
        await using var making = await LockHolder.StartAsync(bed.LockPath("worker-job-6-feedf00d")); // another worker makes this VM now
        var beingWritten = bed.LeaveHalfWrittenRecord("worker-job-6-feedf00d");

        bed.Backend();

        Assert.False(File.Exists(killedBeforeRecord));
        Assert.False(File.Exists(killedMidWrite));
        Assert.True(File.Exists(bed.LockPath("worker-job-6-feedf00d")));
        Assert.True(File.Exists(beingWritten));
        Assert.True(File.Exists(killedMidJob));
        var why = "a lock file with no record, or a record left half-written, that no live process holds";
        Assert.Contains($"Removed leftover file {killedBeforeRecord}: {why}", bed.LoggedText());
        Assert.Contains($"Removed leftover file {killedMidWrite}: {why}", bed.LoggedText());
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Extra_run_arguments_go_to_run_and_their_lease_is_held_until_the_VM_is_deleted(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend();
        var gpu = new RunArguments("gpu-0", tool == "vetu" ? ["--device", "path=/dev/vfio/7"] : ["--nested"]);
        var first = await backend.StartAsync(bed.Attributes(1) with { AppendRun = gpu }, bed.ProgressSink(), CancellationToken.None);

        Assert.True(backend.Leases.IsHeld("gpu-0"));
        Assert.Equal([.. gpu.Arguments, first.Id], bed.Fake.CallsOf("run").Single().Arguments.TakeLast(gpu.Arguments.Count + 1));
        var second = backend.StartAsync(bed.Attributes(2) with { AppendRun = gpu }, bed.ProgressSink(), CancellationToken.None);
        await Eventually.TrueAsync(() => bed.Progress.Any(p => p.Contains("Waiting for run-arguments lease 'gpu-0'", StringComparison.Ordinal)), "the second VM waits");
        Assert.Single(bed.Fake.CallsOf("clone"));

        await first.StopAsync(CancellationToken.None);
        var secondInstance = await second.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(2, bed.Fake.CallsOf("clone").Count);
        await secondInstance.StopAsync(CancellationToken.None);

        Assert.False(backend.Leases.IsHeld("gpu-0"));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task The_lease_is_given_back_when_the_VM_never_comes_up(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend();
        bed.Fake.CloneFailures = 1;
        var gpu = new RunArguments("gpu-0", ["--nested"]);

        await Assert.ThrowsAsync<BackendFailureException>(() => backend.StartAsync(bed.Attributes() with { AppendRun = gpu }, bed.ProgressSink(), CancellationToken.None));

        Assert.False(backend.Leases.IsHeld("gpu-0"));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_missing_CLI_is_the_hosts_failure_in_the_probe_and_in_a_job(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_PATH", "/nonexistent/" + tool));

        var probe = await Assert.ThrowsAsync<BackendFailureException>(() => backend.ProbeAsync(CancellationToken.None));
        var (verdict, job) = await VmTestBed.RunJobAsync(backend, "script: [ 'true' ]");

        Assert.Equal(FailureKind.Host, probe.Kind);
        Assert.Contains($"can't run the {tool} CLI '/nonexistent/{tool}'", probe.Message);
        Assert.Contains($"set WORKER_{tool.ToUpperInvariant()}_PATH", probe.Message);
        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.Contains($"can't run the {tool} CLI", job.RequeueReason);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task The_probe_lists_the_VMs(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        await bed.Backend().ProbeAsync(CancellationToken.None);

        Assert.Equal(tool == "tart" ? "list --format json" : "list", bed.Fake.Calls.Single().Command);
    }
}
