namespace Worker.Vm.Tests;

/// <summary>Booted standby VMs: taken by a job that asks for exactly them, never twice, replaced, retried with backoff.</summary>
[Trait("Category", "Integration")]
public sealed class VmStandbyTests
{
    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_takes_the_booted_standby_and_another_boots_behind_it(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_STANDBY", "1"));
        await backend.Standby!.FillAsync(CancellationToken.None);
        var standby = Assert.Single(backend.Standby.Ready);
        var clonesBefore = bed.Fake.CallsOf("clone").Count;

        var (_, job) = await VmTestBed.RunJobAsync(backend, "script: [ 'echo on-the-standby' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains($"Using standby VM {standby}", job.Log);
        Assert.Contains($"takes standby VM {standby}", bed.LoggedText());
        Assert.Contains($"instance: {standby}", job.Log);
        Assert.DoesNotContain(standby, bed.Fake.ClonedVms);
        // The only clone since is the standby that replaced it.
        await Eventually.TrueAsync(() => backend.Standby.Ready.Count == 1, "another standby is ready");
        Assert.NotEqual(standby, backend.Standby.Ready[0]);
        Assert.Equal(clonesBefore + 1, bed.Fake.CallsOf("clone").Count);
        Assert.StartsWith("worker-standby-", bed.Fake.CallsOf("clone")[^1].Arguments[2]);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_standby_of_an_image_that_is_not_here_pulls_it_before_its_clone(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_STANDBY", "1"), ("_IMAGE_DEFAULT", VmTestBed.RegistryImage));

        await backend.Standby!.FillAsync(CancellationToken.None);

        Assert.Single(backend.Standby.Ready);
        Assert.Equal(["pull", "clone"], bed.Fake.Calls.Select(c => c.Arguments[0]).Where(c => c is "pull" or "clone"));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_standby_serves_one_job_only(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_STANDBY", "1"));
        await backend.Standby!.FillAsync(CancellationToken.None);

        var (_, first) = await VmTestBed.RunJobAsync(backend, "script: [ 'touch ~/was-here' ]");
        await backend.Standby.FillAsync(CancellationToken.None);
        var (_, second) = await VmTestBed.RunJobAsync(backend, "script: [ 'test ! -e ~/was-here && echo clean-machine' ]");

        Assert.Equal("passed", await first.Outcome);
        Assert.Equal("passed", await second.Outcome);
        Assert.Contains("clean-machine", second.Log);
        var vms = new[] { first, second }.Select(j => j.Log.Split("instance: ")[1].Split(' ')[0]).ToList();
        Assert.NotEqual(vms[0], vms[1]);
        Assert.All(vms, vm => Assert.DoesNotContain(vm, bed.Fake.ClonedVms));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_asking_for_other_settings_gets_a_fresh_VM_and_the_standby_waits(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_STANDBY", "1"));
        await backend.Standby!.FillAsync(CancellationToken.None);
        var standby = Assert.Single(backend.Standby.Ready);

        var (_, job) = await VmTestBed.RunJobAsync(backend, "cpus: 3\nscript: [ 'true' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.DoesNotContain("standby", job.Log);
        Assert.Equal([standby], backend.Standby.Ready);
        Assert.Equal([standby], bed.Fake.ClonedVms);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_failing_standby_is_retried_with_backoff_and_jobs_run_on_fresh_VMs_meanwhile(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.CloneFailurePrefix = "worker-standby-";
        bed.Fake.CloneFailures = 3;
        var backend = bed.Backend(o => o with { StandbyRetry = TimeSpan.FromMilliseconds(300) }, ("_STANDBY", "1"));

        var (_, job) = await VmTestBed.RunJobAsync(backend, "script: [ 'echo not-held-up' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("not-held-up", job.Log);
        await Eventually.TrueAsync(() => backend.Standby!.Ready.Count == 1, "the standby boots once the clones work again",
            explain: bed.LoggedText);
        var log = bed.LoggedText();
        Assert.Contains("could not boot", log);
        Assert.Contains("trying again in 0.3s", log);
        Assert.Contains("trying again in 0.6s", log);
        Assert.Contains("trying again in 1.2s", log);
        Assert.Equal(0, backend.Standby!.FailuresInRow);
        var failedStandbys = bed.Fake.CallsOf("clone").Where(c => c.ExitCode == 1).Select(c => c.Arguments[2]).ToList();
        Assert.Equal(3, failedStandbys.Count);
        Assert.All(failedStandbys, vm => Assert.DoesNotContain(vm, bed.Fake.ClonedVms));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_standby_that_dies_while_it_waits_is_deleted_and_replaced(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_STANDBY", "1"));
        await backend.Standby!.FillAsync(CancellationToken.None);
        var dead = Assert.Single(backend.Standby.Ready);

        bed.Fake.Crash(dead);

        await Eventually.TrueAsync(() => backend.Standby.Ready.Count == 1 && backend.Standby.Ready[0] != dead, "a new standby replaces it");
        await Eventually.TrueAsync(() => !bed.Fake.ClonedVms.Contains(dead), "the dead standby is deleted");
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Idle_standbys_are_deleted_when_the_backend_is_disposed(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_STANDBY", "2"));
        await backend.Standby!.FillAsync(CancellationToken.None);
        Assert.Equal(2, bed.Fake.ClonedVms.Count);

        await backend.DisposeAsync();

        VmFaultTests.AssertNothingLeft(bed);
    }
}
