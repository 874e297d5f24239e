using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>What the Compute API refuses to this worker whatever the job is a host failure naming the credentials; the probe is a zone get.</summary>
public sealed class GceHostFailureTests() : FakeGceTest(bootVms: false)
{
    [Fact]
    public async Task An_insert_refused_with_403_requeues_the_job_uncounted_names_the_permission_and_deletes_nothing()
    {
        Fake.AddAccount("limited", FakeCall.InsertInstance);

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_ACCESS_TOKEN", "limited")), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.Equal(HostSignal.Broken, verdict.Host);
        Assert.False(verdict.RequeueCounted);
        Assert.Contains("the Compute API refuses this worker's requests in project test-project", job.RequeueReason);
        Assert.Contains("Required 'compute.instances.create' permission", job.RequeueReason);
        Assert.Equal(0, Fake.Count(FakeCall.DeleteInstance)); // a refused insert created nothing
    }

    [Fact]
    public async Task Credentials_the_API_does_not_accept_fail_starts_and_probes_as_host_failures()
    {
        var backend = Bed.Backend(("GCE_ACCESS_TOKEN", "expired"));

        var start = await Assert.ThrowsAsync<BackendFailureException>(() => backend.StartAsync(Bed.Attributes(), Bed.ProgressSink(), CancellationToken.None));
        var probe = await Assert.ThrowsAsync<BackendFailureException>(() => backend.ProbeAsync(CancellationToken.None));

        Assert.Equal(FailureKind.Host, start.Kind);
        Assert.Contains("the Compute API does not accept this worker's credentials", start.Message);
        Assert.Contains("check WORKER_GCE_ACCESS_TOKEN", start.Message);
        Assert.Equal(FailureKind.Host, probe.Kind);
        Assert.Equal(0, Fake.Count(FakeCall.InsertInstance));
    }

    [Fact]
    public async Task The_probe_is_one_get_of_the_zone_the_worker_uses()
    {
        var backend = Bed.Backend(("GCE_ZONE", "us-central1-b"));

        await backend.ProbeAsync(CancellationToken.None);

        var probe = Assert.Single(Fake.Requests);
        Assert.Equal(FakeCall.GetZone, probe.Call);
        Assert.EndsWith("/projects/test-project/zones/us-central1-b", probe.Path);
        Assert.Equal("a Compute API get of zone us-central1-b in project test-project", backend.ProbeDescription);
    }

    [Fact]
    public async Task A_full_region_is_capacity_not_a_host_failure()
    {
        foreach (var zone in new[] { "us-central1-a", "us-central1-b", "us-central1-f" })
        {
            Fake.Exhaust(zone);
        }

        var (verdict, _) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo never' ]");

        Assert.True(verdict.RequeueCounted);
        Assert.Equal(HostSignal.None, verdict.Host);
    }
}
