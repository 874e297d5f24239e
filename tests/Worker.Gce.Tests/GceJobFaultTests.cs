using Worker.Gce.Tests.Fakes;
using Worker.Ssh;

namespace Worker.Gce.Tests;

/// <summary>Whole jobs on the GCE backend when the VM, the zone or the API misbehaves: requeued or refused, and no VM is left.</summary>
[Trait("Category", "Integration")]
public sealed class GceJobFaultTests() : FakeGceTest(bootVms: true)
{
    [Theory]
    [InlineData("GCE_PREEMPTIBLE")]
    [InlineData("GCE_SPOT")]
    public async Task A_preempted_VM_requeues_the_job_and_is_deleted(string setting)
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend((setting, "true")), "script: [ 'echo ready', 'sleep 30', 'echo never' ]",
            whileRunning: async job =>
            {
                await GceTestBed.WaitForLogAsync(job, "ready");
                Fake.Preempt(Assert.Single(Fake.InstanceNames));
            });

        Assert.Equal("requeued", await job.Outcome);
        Assert.True(verdict.Requeue);
        Assert.Contains("was preempted by Compute Engine", job.Log);
        Assert.DoesNotContain("never", job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_VM_that_presents_another_host_key_gets_no_script()
    {
        var backend = Bed.Backend();
        await using var instance = await backend.StartAsync(Bed.Attributes(), Bed.ProgressSink(), CancellationToken.None);
        await Fake.ReplaceHostKeyAsync(instance.Id);

        await Assert.ThrowsAsync<HostKeyRejectedException>(() => instance.UploadScriptAsync("echo hi", CancellationToken.None));

        Assert.False(File.Exists(Path.Combine(Fake.Vm(instance.Id)!.Home, "build.sh")));
        await instance.StopAsync(CancellationToken.None);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_VM_that_already_ran_a_script_is_refused_as_stale()
    {
        var backend = Bed.Backend();
        await using var instance = await backend.StartAsync(Bed.Attributes(), Bed.ProgressSink(), CancellationToken.None);
        await instance.UploadScriptAsync("echo first", CancellationToken.None);

        await Assert.ThrowsAsync<StaleVmException>(() => instance.UploadScriptAsync("echo second", CancellationToken.None));

        await instance.StopAsync(CancellationToken.None);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_full_zone_sends_the_VM_to_the_next_zone_of_the_region()
    {
        Fake.Exhaust("us-central1-a");

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo ran' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("Zone us-central1-a can't take the instance now (ZONE_RESOURCE_POOL_EXHAUSTED); trying zone us-central1-b", job.Log);
        var inserts = Fake.Requests.Where(r => r.Call == FakeCall.InsertInstance).Select(r => r.Path).ToList();
        Assert.Equal(2, inserts.Count);
        Assert.Contains("/zones/us-central1-a/", inserts[0]);
        Assert.Contains("/zones/us-central1-b/", inserts[1]);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task Retried_transient_faults_still_run_the_job()
    {
        Fake.Fail(FakeCall.ListImages, FakeFault.TooManyRequests);
        Fake.Fail(FakeCall.InsertInstance, FakeFault.ServerError, times: 2);
        Fake.Fail(FakeCall.ZoneOperation, FakeFault.RateLimitExceeded);
        Fake.Fail(FakeCall.GetInstance, new FakeFault.BadJson());
        Fake.Fail(FakeCall.AggregatedOperations, new FakeFault.Hang(TimeSpan.FromMinutes(2)));

        // A hang is a timeout only past GCE_REQUEST_TIMEOUT, which a good call on a loaded machine must never reach.
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_REQUEST_TIMEOUT", "5s")), "script: [ 'echo survived' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("survived", job.Log);
        Assert.Equal(3, Fake.Count(FakeCall.InsertInstance));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task An_insert_whose_answer_was_lost_is_retried_without_creating_a_second_VM()
    {
        Fake.Fail(FakeCall.InsertInstance, new FakeFault.LoseAnswer());

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_REQUEST_TIMEOUT", "5s")), "script: [ 'echo once' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Equal(2, Fake.Count(FakeCall.InsertInstance));
        Assert.Single(Fake.Created);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task The_hard_timeout_ends_the_script_on_the_VM_and_errors_the_job()
    {
        var (verdict, job) = await Eventually.CompletesAsync(
            GceTestBed.RunJobAsync(Bed.Backend(), "timeout: 2s\nscript: [ 'echo started', 'sleep 3600', 'echo never' ]"),
            "the hard timeout ended the hour-long sleep", TimeSpan.FromMinutes(1));

        Assert.Equal("errored", await job.Outcome);
        Assert.Equal(124, verdict.ExitCode);
        Assert.Contains("started", job.Log);
        Assert.Contains("exceeded the maximum time limit", job.Log);
        Assert.DoesNotContain("never", job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_VM_whose_SSH_never_accepts_the_key_is_deleted_when_the_startup_timeout_ends()
    {
        // The VM installs keys for another user than the one the worker logs in as.
        var backend = Bed.Backend(("GCE_SSH_USER", "nobody"));

        // Long enough that the insert and its wait are done well before it, on a busy machine too: the VM must be seen waiting for SSH.
        var (verdict, job) = await GceTestBed.RunJobAsync(backend, "script: [ 'echo never' ]", startup: TimeSpan.FromSeconds(15));

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("starting the machine took longer than 15s", job.RequeueReason);
        Assert.Contains("waiting for SSH", job.Log);
        Assert.Equal(1, Fake.Count(FakeCall.DeleteInstance));
        Assert.Empty(Fake.InstanceNames);
    }
}
