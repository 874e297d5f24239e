using Worker.Core.Cleanup;
using Worker.Core.Jobs;

namespace Worker.Vm.Tests;

/// <summary>
/// Each fault the stand-ins inject, on both tools: the job's outcome is right and no VM is left in
/// the stand-in's list (nor a record held under WORKER_BASE_DIR).
/// </summary>
[Trait("Category", "Integration")]
public sealed class VmFaultTests
{
    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_clone_that_fails_is_the_hosts_failure_and_leaves_no_VM(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.CloneFailures = 1;

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.Equal(HostSignal.Broken, verdict.Host);
        Assert.Contains($"{tool} can't clone {VmTestBed.DefaultImage} on this host: not enough free disk space", job.RequeueReason);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_VM_that_never_gets_an_IP_is_deleted_at_the_boot_timeout_and_the_job_requeued(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.IpNeverAnswers = true;

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(("_BOOT_TIMEOUT", "3s")), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued", job.Events);
        Assert.Contains($"no IP address within WORKER_{tool.ToUpperInvariant()}_BOOT_TIMEOUT (3s)", job.RequeueReason);
        Assert.NotEmpty(bed.Fake.CallsOf("ip"));
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_VM_whose_sshd_refuses_connections_is_deleted_at_the_boot_timeout_and_the_job_requeued(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.SshdRefuses = true;

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(("_BOOT_TIMEOUT", "4s")), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued", job.Events);
        Assert.Contains("no SSH login within", job.RequeueReason);
        Assert.Contains("waiting for SSH", job.Log);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Credentials_the_default_image_refuses_are_the_hosts_failure(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(("_SSH_PASSWORD", "not-the-password")), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.Contains($"of the default image {VmTestBed.DefaultImage} refuses WORKER_{tool.ToUpperInvariant()}_SSH_USER and WORKER_{tool.ToUpperInvariant()}_SSH_PASSWORD", job.RequeueReason);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task An_image_of_the_jobs_choice_that_refuses_the_credentials_errors_the_job(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), $"image: {VmTestBed.OtherUserImage}\nscript: [ 'echo never' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains($"image {VmTestBed.OtherUserImage} does not let {VmTestBed.GuestUser} in", job.Log);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_VM_whose_run_exits_mid_job_requeues_the_job_counted_with_one_line_saying_why(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var vm = "";

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), "script: [ 'echo ready', 'sleep 60', 'echo never' ]",
            whileRunning: async job =>
            {
                await VmTestBed.WaitForLogAsync(job, "ready");
                vm = Assert.Single(bed.Fake.ClonedVms);
                bed.Fake.Crash(vm);
            });

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued", job.Events);
        Assert.True(verdict.RequeueCounted);
        Assert.DoesNotContain("never", job.Log);
        var why = Assert.Single(job.Log.Split('\n'), l => l.Contains("stopped while", StringComparison.Ordinal));
        Assert.Contains($"VM {vm} stopped while the script ran ({tool} run exited with code 1: the VM {vm} crashed (fake))", why);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_delete_that_fails_leaves_the_VM_to_cleanup_which_deletes_it_later(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.DeleteFailures = 1;

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), "script: [ 'echo done' ]");

        Assert.Equal("passed", await job.Outcome);
        var left = Assert.Single(bed.Fake.ClonedVms);
        Assert.Empty(bed.Fake.RunningVms);
        Assert.Contains($"Could not delete VM {left}", bed.LoggedText());

        var reaper = new OrphanReaper(bed.Inventory(), null, VmTestBed.Fleet, new CleanupOptions(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<OrphanReaper>.Instance);
        var decision = Assert.Single(await reaper.RunOnceAsync(dryRun: false, CancellationToken.None));

        Assert.True(decision.Delete);
        Assert.Equal("no live worker process holds it", decision.Reason);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_cancelled_during_a_slow_boot_ends_cancelled_and_its_VM_is_deleted(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.BootDelay = TimeSpan.FromMinutes(5);
        var cancellations = new JobCancellations();

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(("_BOOT_TIMEOUT", "10m")), "id: 777\nscript: [ 'echo never' ]",
            cancellations: cancellations,
            whileRunning: async job =>
            {
                await Eventually.TrueAsync(() => bed.Fake.RunningVms.Count == 1 && bed.Fake.CallsOf("ip").Count > 0, "the VM boots");
                Assert.True(cancellations.Cancel(777, "cancelled while booting"));
            });

        Assert.Equal("cancelled", await job.Outcome);
        Assert.DoesNotContain("never", job.Log);
        Assert.Single(bed.Fake.CallsOf("delete"));
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_run_that_exits_while_the_VM_boots_requeues_the_job(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.BootDelay = TimeSpan.FromMinutes(5);

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(("_BOOT_TIMEOUT", "10m")), "script: [ 'echo never' ]",
            whileRunning: async job =>
            {
                await Eventually.TrueAsync(() => bed.Fake.RunningVms.Count == 1, "the VM boots");
                bed.Fake.Crash(bed.Fake.RunningVms[0]);
            });

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("stopped while booting", job.RequeueReason);
        Assert.Contains("crashed (fake)", job.RequeueReason);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task The_hard_timeout_ends_the_script_and_the_VM_is_deleted(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), "timeout: 3s\nscript: [ 'echo started', 'sleep 60', 'echo never' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Equal(124, verdict.ExitCode);
        Assert.Contains("exceeded the maximum time limit", job.Log);
        Assert.DoesNotContain("never", job.Log);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_cancelled_while_its_script_runs_ends_cancelled_and_its_VM_is_deleted(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var cancellations = new JobCancellations();

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), "id: 778\nscript: [ 'echo ready', 'sleep 60', 'echo never' ]",
            cancellations: cancellations,
            whileRunning: async job =>
            {
                await VmTestBed.WaitForLogAsync(job, "ready");
                Assert.True(cancellations.Cancel(778, "enough"));
            });

        Assert.Equal("cancelled", await job.Outcome);
        Assert.DoesNotContain("never", job.Log);
        AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_worker_shutting_down_requeues_the_job_uncounted_and_deletes_its_VM(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        using var stopping = new CancellationTokenSource();

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), "script: [ 'echo ready', 'sleep 60', 'echo never' ]",
            workerStopping: stopping.Token,
            whileRunning: async job =>
            {
                await VmTestBed.WaitForLogAsync(job, "ready");
                await stopping.CancelAsync();
            });

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.DoesNotContain("never", job.Log);
        AssertNothingLeft(bed);
    }

    /// <summary>No VM in the stand-in's list, none running, no record under WORKER_BASE_DIR.</summary>
    internal static void AssertNothingLeft(VmTestBed bed)
    {
        Assert.Empty(bed.Fake.ClonedVms);
        Assert.Empty(bed.Fake.RunningVms);
        Assert.Empty(Directory.Exists(bed.RecordDir) ? Directory.GetFiles(bed.RecordDir) : []);
    }
}
