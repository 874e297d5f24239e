using System.Text.Json.Nodes;
using Worker.Core.Backends;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>Whole jobs through the pipeline on the GCE backend, against the fake Compute API whose VMs are real sshds.</summary>
[Trait("Category", "Integration")]
public sealed class GceJobTests() : FakeGceTest(bootVms: true)
{
    [Fact]
    public async Task A_job_runs_on_a_fresh_VM_and_its_output_and_exit_code_come_back()
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), """
            script:
              - echo "hello from $(hostname -I 2>/dev/null || echo vm) in $PWD"
              - test -t 1 && echo "stdout is a terminal"
            """);

        Assert.Equal("passed", await job.Outcome);
        Assert.Equal(0, verdict.ExitCode);
        Assert.Contains("hello from", job.Log);
        Assert.Contains("in /root", job.Log);
        Assert.Contains("stdout is a terminal", job.Log);
        Assert.Contains("Creating instance worker-job-", job.Log);
        Assert.Contains("waiting for SSH", job.Log);
        Assert.Contains("SSH is up on worker-job-", job.Log);
        Assert.Contains(job.Events, e => e.StartsWith("started:worker-job-", StringComparison.Ordinal));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task The_VM_gets_the_fleet_labels_a_per_job_key_and_the_auto_implode_script()
    {
        var backend = Bed.Backend(("GCE_VM_SIZE_MACHINE_TYPES", "large=n2-standard-4"), ("GCE_PREEMPTIBLE", "true"));
        var first = await backend.StartAsync(Bed.Attributes(jobId: 11, hardTimeout: TimeSpan.FromMinutes(50)) with { VmSize = "large" }, Bed.ProgressSink(), CancellationToken.None);
        var second = await backend.StartAsync(Bed.Attributes(jobId: 12), Bed.ProgressSink(), CancellationToken.None);
        try
        {
            var vm = Fake.Instance(first.Id)!;
            var labels = vm["labels"]!.AsObject();
            Assert.Equal(GceTestBed.Fleet, labels[MachineLabels.Fleet]!.GetValue<string>());
            Assert.Equal("11", labels[MachineLabels.JobId]!.GetValue<string>());
            Assert.Equal(GceTestBed.Host, labels[MachineLabels.Host]!.GetValue<string>());
            var deadline = long.Parse(labels[MachineLabels.Deadline]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(DateTimeOffset.FromUnixTimeSeconds(deadline), DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));
            Assert.EndsWith("zones/us-central1-a/machineTypes/n2-standard-4", vm["machineType"]!.GetValue<string>());
            Assert.True(vm["scheduling"]!["preemptible"]!.GetValue<bool>());
            Assert.Equal("TERMINATE", vm["scheduling"]!["onHostMaintenance"]!.GetValue<string>());
            Assert.EndsWith("/global/images/travis-ci-bookworm-1800000000", vm["disks"]![0]!["initializeParams"]!["sourceImage"]!.GetValue<string>());
            Assert.Contains("--on-active=3600s", Metadata(vm, "startup-script"));
            Assert.Equal("TRUE", Metadata(vm, "block-project-ssh-keys"));
            var firstKey = Metadata(vm, "ssh-keys");
            var secondKey = Metadata(Fake.Instance(second.Id)!, "ssh-keys");
            Assert.StartsWith(Fake.VmUser + ":ssh-rsa ", firstKey);
            Assert.NotEqual(firstKey.Split(' ')[1], secondKey.Split(' ')[1]);
        }
        finally
        {
            await first.StopAsync(CancellationToken.None);
            await second.StopAsync(CancellationToken.None);
        }
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_failing_script_fails_the_job_and_is_not_requeued()
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo about to fail', 'false' ]");

        Assert.Equal("failed", await job.Outcome);
        Assert.False(verdict.Requeue);
        Assert.Contains("about to fail", job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task Output_reaches_the_log_while_the_script_still_runs()
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo first-line', 'sleep 2', 'echo last-line' ]",
            whileRunning: async job =>
            {
                await GceTestBed.WaitForLogAsync(job, "first-line");
                Assert.DoesNotContain("last-line", job.Log);
            });

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("last-line", job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_preempted_VM_requeues_the_job_and_is_deleted()
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo ready', 'sleep 30', 'echo never' ]",
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

        await Assert.ThrowsAsync<HostKeyMismatchException>(() => instance.UploadScriptAsync("echo hi", CancellationToken.None));

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
        Fake.Fail(FakeCall.AggregatedOperations, new FakeFault.Hang(TimeSpan.FromSeconds(10)));

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_REQUEST_TIMEOUT", "500ms")), "script: [ 'echo survived' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("survived", job.Log);
        Assert.Equal(3, Fake.Count(FakeCall.InsertInstance));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task An_insert_whose_answer_was_lost_is_retried_without_creating_a_second_VM()
    {
        Fake.Fail(FakeCall.InsertInstance, new FakeFault.LoseAnswer());

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_REQUEST_TIMEOUT", "500ms")), "script: [ 'echo once' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Equal(2, Fake.Count(FakeCall.InsertInstance));
        Assert.Single(Fake.Created);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task The_hard_timeout_ends_the_script_on_the_VM_and_errors_the_job()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "timeout: 2s\nscript: [ 'echo started', 'sleep 60', 'echo never' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Equal(124, verdict.ExitCode);
        Assert.Contains("exceeded the maximum time limit", job.Log);
        Assert.DoesNotContain("never", job.Log);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(20));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_VM_whose_SSH_never_accepts_the_key_is_deleted_when_the_startup_timeout_ends()
    {
        // The VM installs keys for another user than the one the worker logs in as.
        var backend = Bed.Backend(("GCE_SSH_USER", "nobody"));

        var (verdict, job) = await GceTestBed.RunJobAsync(backend, "script: [ 'echo never' ]", startup: TimeSpan.FromSeconds(3));

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("starting the machine took longer than 3s", job.RequeueReason);
        Assert.Equal(1, Fake.Count(FakeCall.DeleteInstance));
        Assert.Empty(Fake.InstanceNames);
    }

    private static string Metadata(JsonObject vm, string key) =>
        vm["metadata"]!["items"]!.AsArray().Single(i => i!["key"]!.GetValue<string>() == key)!["value"]!.GetValue<string>();
}
