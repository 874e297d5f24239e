using Worker.Core.Backends;

namespace Worker.Vm.Tests;

/// <summary>
/// A caller's standby with a warm-up (the Cirrus bridge's <c>standby.warmup</c>): on Tart, run in the
/// booted VM before it is offered; past its timeout, a warning and the VM offered anyway; a failing
/// one fails the boot and deletes the VM. On Vetu, not run (cirrus-cli's behaviour), said once.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VmStandbyWarmupTests
{
    [Fact]
    public async Task A_tart_standby_runs_its_warmup_before_it_is_offered_and_the_job_sees_what_it_left()
    {
        var (bed, backend) = await StandbyWithWarmupAsync("tart", "echo warming-the-cache\necho warm > ~/warmed-up", TimeSpan.FromMinutes(1));
        await using (bed)
        {
            var standby = Assert.Single(backend.Standby!.Ready);
            Assert.Equal("warm\n", File.ReadAllText(Path.Combine(bed.Fake.Vm(standby)!.Home, "warmed-up")));
            Assert.Contains($"Warm-up of VM {standby}: warming-the-cache", bed.LoggedText());
            var (_, job) = await VmTestBed.RunJobAsync(backend, "script: [ 'echo \"job sees $(cat ~/warmed-up)\"' ]");
            Assert.Equal("passed", await job.Outcome);
            Assert.Contains($"Using standby VM {standby}", job.Log);
            Assert.Contains("job sees warm", job.Log);
        }
    }

    [Fact]
    public async Task A_warmup_that_outlasts_its_timeout_warns_and_the_standby_is_still_offered()
    {
        var (bed, backend) = await StandbyWithWarmupAsync("tart", "echo started > ~/warm-up-started\nsleep 300", TimeSpan.FromSeconds(1));
        await using (bed)
        {
            var standby = Assert.Single(backend.Standby!.Ready);
            Assert.Equal(0, backend.Standby.FailuresInRow);
            Assert.Contains($"The warm-up script of standby VM {standby} ran past its timeout (1s) and was stopped; the standby is offered anyway", bed.LoggedText());
            var (_, job) = await VmTestBed.RunJobAsync(backend, "script: [ 'cat ~/warm-up-started' ]");
            Assert.Equal("passed", await job.Outcome);
            Assert.Contains($"Using standby VM {standby}", job.Log);
        }
    }

    [Theory]
    // Its sshd session killed: the connection goes, with no exit status (what it printed last may not have come through).
    [InlineData("kill -KILL $PPID", "the SSH", null)]
    [InlineData("echo before-the-failure\nfalse", "its shell exited with 1", "before-the-failure")]
    public async Task A_warmup_that_fails_fails_the_boot_and_its_vm_is_deleted(string script, string reason, string? lastLine)
    {
        var (bed, backend) = await StandbyWithWarmupAsync("tart", script, TimeSpan.Zero);
        await using (bed)
        {
            Assert.Equal(1, backend.Standby!.FailuresInRow);
            Assert.Empty(backend.Standby.Ready);
            var vm = bed.Fake.CallsOf("clone").Single().Arguments[2];
            await Eventually.TrueAsync(() => !bed.Fake.ClonedVms.Contains(vm), "the VM whose warm-up failed is deleted");
            var log = bed.LoggedText();
            Assert.Contains($"The warm-up script of standby VM {vm} failed ({reason}", log);
            Assert.Contains($"Standby VM {vm} could not boot (the warm-up script of VM {vm} failed", log);
            Assert.Contains("trying again in", log);
            if (lastLine is not null)
            {
                Assert.Contains("its last lines:\n" + lastLine, log);
            }
        }
    }

    [Fact]
    public async Task A_vetu_standby_does_not_run_its_warmup_and_says_so_once()
    {
        var (bed, backend) = await StandbyWithWarmupAsync("vetu", "echo warm > ~/warmed-up", TimeSpan.FromMinutes(1));
        await using (bed)
        {
            var standby = Assert.Single(backend.Standby!.Ready);
            Assert.False(File.Exists(Path.Combine(bed.Fake.Vm(standby)!.Home, "warmed-up")));
            var log = bed.LoggedText();
            Assert.Single(log.Split('\n'), line => line.Contains("warm-up script is not run on vetu", StringComparison.Ordinal));
            Assert.DoesNotContain("Running the warm-up script", log);
        }
    }

    /// <summary>A backend keeping one standby with this warm-up, once its first boot has ended (ready or failed; a retry waits an hour).</summary>
    private static async Task<(VmTestBed Bed, VmBackend Backend)> StandbyWithWarmupAsync(string tool, string script, TimeSpan timeout)
    {
        var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(o => o with { StandbyRetry = TimeSpan.FromHours(1) });
        backend.KeepStandby(new StandbyRequest(bed.Attributes(0)) { Warmup = new StandbyWarmup(script, timeout) });
        await backend.Standby!.FillAsync(CancellationToken.None);
        return (bed, backend);
    }
}
