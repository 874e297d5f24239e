using System.Text.Json.Nodes;
using Worker.Core.Backends;
using Worker.Core.Images;
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
    public async Task A_job_vm_takes_the_name_prefix_of_the_settings()
    {
        var (_, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_INSTANCE_NAME_PREFIX", "travis-job")), "script: [\"true\"]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains(job.Events, e => e.StartsWith("started:travis-job-", StringComparison.Ordinal));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_passing_job_costs_five_Compute_API_calls_insert_and_delete_each_with_one_operation_wait_and_one_get()
    {
        var backend = Bed.Backend(("GCE_BOOT_POLL_SLEEP", "3s"), ("GCE_STOP_POLL_SLEEP", "3s"));
        var (_, warmUp) = await GceTestBed.RunJobAsync(backend, "script: [\"true\"]"); // resolves the image and the zones once
        Assert.Equal("passed", await warmUp.Outcome);
        var before = Fake.Requests.Count;

        var (_, job) = await GceTestBed.RunJobAsync(backend, "script: [\"true\"]");

        Assert.Equal("passed", await job.Outcome);
        var calls = Fake.Requests.Skip(before).Select(r => r.Call).ToList();
        Assert.Equal([FakeCall.InsertInstance, FakeCall.ZoneOperation, FakeCall.GetInstance, FakeCall.DeleteInstance, FakeCall.ZoneOperation], calls);
        Assert.All(Fake.Requests.Skip(before).Where(r => r.Call == FakeCall.ZoneOperation), r => Assert.EndsWith("/wait", r.Path));
    }

    [Fact]
    public async Task The_VM_gets_the_fleet_labels_a_per_job_key_and_the_auto_implode_script()
    {
        var backend = Bed.Backend(("GCE_VM_SIZE_MACHINE_TYPES", "large=n2-standard-4"), ("GCE_PREEMPTIBLE", "true"),
            ("GCE_HOST_ZONE", "us-central1-f"), ("GCE_HOST_PROJECT", FakeComputeApi.HostProject));
        var first = await backend.StartAsync(Bed.Attributes(jobId: 11, hardTimeout: TimeSpan.FromMinutes(50)) with { VmSize = "large" }, Bed.ProgressSink(), CancellationToken.None);
        var second = await backend.StartAsync(Bed.Attributes(jobId: 12), Bed.ProgressSink(), CancellationToken.None);
        try
        {
            var vm = Fake.Instance(first.Id)!;
            var labels = vm["labels"]!.AsObject();
            Assert.Equal(GceTestBed.Fleet, labels[MachineLabels.Fleet]!.GetValue<string>());
            Assert.Equal("11", labels[MachineLabels.JobId]!.GetValue<string>());
            Assert.Equal(GceTestBed.Host, labels[MachineLabels.Host]!.GetValue<string>());
            Assert.Equal(GceTestBed.Host, labels[MachineLabels.HostMachine]!.GetValue<string>());
            Assert.Equal("us-central1-f", labels[MachineLabels.HostZone]!.GetValue<string>());
            Assert.Equal(FakeComputeApi.HostProject, labels[MachineLabels.HostProject]!.GetValue<string>());
            var deadline = long.Parse(labels[MachineLabels.Deadline]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            var created = long.Parse(labels[MachineLabels.CreatedAt]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(TimeSpan.FromMinutes(50 + 10), TimeSpan.FromSeconds(deadline - created)); // the hard timeout and the margin
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
    public async Task A_job_naming_no_image_gets_the_image_travis_workers_env_selector_maps_for_its_dist_and_language()
    {
        // As a travis-worker deployment writes its mappings: travis-worker's names, URL-escaped patterns, one alias.
        var variables = Bed.Variables();
        variables["TRAVIS_WORKER_GCE_IMAGE_JAMMY"] = "travis-ci-jammy-.%2B";
        variables["GCE_IMAGE_STABLE_PYTHON"] = "jammy"; // names another key: travis-worker looks it up once more
        var backend = GceRegistration.CreateBackend(new Core.Configuration.SettingsSource(variables), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var mapped = await backend.StartAsync(Bed.Attributes(jobId: 21) with { Dist = "jammy", Language = "ruby" }, Bed.ProgressSink(), CancellationToken.None);
        var aliased = await backend.StartAsync(Bed.Attributes(jobId: 22) with { Dist = "focal", Language = "python" }, Bed.ProgressSink(), CancellationToken.None);
        var unmapped = await backend.StartAsync(Bed.Attributes(jobId: 23) with { Dist = "focal", Language = "go" }, Bed.ProgressSink(), CancellationToken.None);
        var named = await backend.StartAsync(Bed.Attributes(jobId: 24) with { Dist = "jammy", Image = "debian-12-bookworm-v20260101" }, Bed.ProgressSink(), CancellationToken.None);
        try
        {
            Assert.EndsWith("/global/images/travis-ci-jammy-1750000000", SourceImage(mapped));
            Assert.EndsWith("/global/images/travis-ci-jammy-1750000000", SourceImage(aliased));
            Assert.EndsWith("/global/images/travis-ci-bookworm-1800000000", SourceImage(unmapped)); // WORKER_GCE_IMAGE_DEFAULT
            Assert.EndsWith("/global/images/debian-12-bookworm-v20260101", SourceImage(named)); // a job's own image comes first
        }
        finally
        {
            foreach (var instance in new[] { mapped, aliased, unmapped, named })
            {
                await instance.StopAsync(CancellationToken.None);
            }
        }
        Assert.Empty(Fake.InstanceNames);
    }

    private string SourceImage(IInstance instance) =>
        Fake.Instance(instance.Id)!["disks"]![0]!["initializeParams"]!["sourceImage"]!.GetValue<string>();

    [Fact]
    public void The_env_selectors_keys_go_from_the_most_specific_to_the_os_as_travis_workers()
    {
        var job = ImageQuery.For(new StartAttributes { JobId = 1, Language = "Ruby", Dist = "xenial", Group = "stable", Os = "linux" }, "gce");

        Assert.Equal(
            ["dist_xenial_group_stable_ruby", "xenial_stable_ruby", "dist_xenial_ruby", "xenial_ruby", "group_stable_ruby", "stable_ruby",
             "os_linux_ruby", "linux_ruby", "default_dist_xenial", "dist_xenial", "xenial", "default_group_stable", "group_stable", "stable",
             "language_ruby", "ruby", "default_os_linux", "os_linux", "linux"],
            EnvImageSelector.CandidateKeys(job));
        Assert.Null(new EnvImageSelector(new Dictionary<string, string>()).For(job));
    }

    [Fact]
    public async Task Jobs_running_at_once_on_one_backend_each_get_their_own_VM()
    {
        var backend = Bed.Backend(("GCE_RATE_LIMIT", "50"));

        var runs = await Task.WhenAll(Enumerable.Range(1, 3).Select(i =>
            GceTestBed.RunJobAsync(backend, $"script: [ 'echo owner-is-{(char)('a' + i)} > mine', 'sleep 1', 'cat mine' ]")));

        foreach (var (i, (verdict, job)) in runs.Select((r, i) => (i + 1, r)))
        {
            Assert.Equal("passed", await job.Outcome);
            // Each reads back only what it wrote: no two jobs shared a VM.
            Assert.Contains($"owner-is-{(char)('a' + i)}", job.Log);
            Assert.DoesNotContain($"owner-is-{(char)('a' + i % 3 + 1)}", job.Log);
        }
        Assert.Equal(3, Fake.Created.Distinct().Count());
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task Without_a_public_IP_the_VM_is_reached_on_its_internal_address()
    {
        var backend = Bed.Backend(("GCE_PUBLIC_IP", "false"));
        await using var instance = await backend.StartAsync(Bed.Attributes(), Bed.ProgressSink(), CancellationToken.None);

        var nic = Fake.Instance(instance.Id)!["networkInterfaces"]![0]!;
        Assert.Null(nic["accessConfigs"]);
        Assert.Contains(Bed.Progress, line => line.Contains($"running at {nic["networkIP"]!.GetValue<string>()}", StringComparison.Ordinal));
        await instance.UploadScriptAsync("echo internal", CancellationToken.None);
        await instance.StopAsync(CancellationToken.None);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_travis_worker_deployments_VMs_keep_its_network_tags_premium_machine_type_and_host_zone_and_ssh_keys_work_under_os_login()
    {
        // worker-gcp-standalone sets no zone: job VMs go to the host's own, as travis-worker put them.
        var variables = Bed.Variables(("GCE_PUBLIC_IP", "false"), ("GCE_HOST_ZONE", "us-central1-f"));
        variables.Remove("WORKER_GCE_ZONE");
        variables["TRAVIS_SITE"] = "org";
        var backend = GceRegistration.CreateBackend(new Core.Configuration.SettingsSource(variables), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await using var instance = await backend.StartAsync(Bed.Attributes() with { VmType = "premium" }, Bed.ProgressSink(), CancellationToken.None);

        var vm = Fake.Instance(instance.Id)!;
        Assert.Equal(["worker-job", "testing", "no-ip", "org"], vm["tags"]!["items"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.EndsWith("zones/us-central1-f/machineTypes/n1-standard-4", vm["machineType"]!.GetValue<string>());
        Assert.Equal("FALSE", Metadata(vm, "enable-oslogin"));
        await instance.StopAsync(CancellationToken.None);
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
        // The script goes on only once the test has looked (the VM is this host's sshd), not after a sleep a busy machine can outlast.
        var goOn = Path.Combine(Path.GetTempPath(), $"gce-go-on-{Guid.NewGuid():N}");
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(),
            $"script: [ 'echo first-line', 'while [ ! -e {goOn} ]; do sleep 0.1; done', 'echo last-line' ]",
            whileRunning: async job =>
            {
                await GceTestBed.WaitForLogAsync(job, "first-line");
                Assert.DoesNotContain("last-line", job.Log);
                await File.WriteAllTextAsync(goOn, "");
            });
        File.Delete(goOn);

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("last-line", job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    private static string Metadata(JsonObject vm, string key) =>
        vm["metadata"]!["items"]!.AsArray().Single(i => i!["key"]!.GetValue<string>() == key)!["value"]!.GetValue<string>();
}
