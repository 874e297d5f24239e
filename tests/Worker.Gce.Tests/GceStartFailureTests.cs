using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>Starts that fail: the job is requeued and no VM is left behind. These need no sshd.</summary>
public sealed class GceStartFailureTests() : FakeGceTest(bootVms: false)
{
    [Fact]
    public async Task When_every_zone_of_the_region_is_full_the_job_is_requeued_and_no_VM_is_left()
    {
        Fake.Exhaust("us-central1-a", "QUOTA_EXCEEDED");
        Fake.Exhaust("us-central1-b");
        Fake.Exhaust("us-central1-f", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS");

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.True(verdict.RequeueCounted);
        Assert.Contains("no zone of us-central1 could take the instance", job.RequeueReason);
        var zonesTried = Fake.Requests.Where(r => r.Call == FakeCall.InsertInstance).Select(r => r.Path.Split('/')[6]).ToList();
        Assert.Equal(["us-central1-a", "us-central1-b", "us-central1-f"], zonesTried); // us-central1-c is DOWN, europe-west1-b is elsewhere
        Assert.Equal(3, Fake.Count(FakeCall.DeleteInstance)); // one per zone tried, none twice
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task VMs_are_spread_over_the_configured_zones_and_the_rest_of_the_region_is_the_fallback()
    {
        foreach (var zone in new[] { "us-central1-a", "us-central1-b", "us-central1-f" })
        {
            Fake.Exhaust(zone); // every insert is refused fast, so each start shows the order of the zones it tried
        }
        var backend = Bed.Backend(("GCE_ZONES", "us-central1-b,us-central1-f"));

        var orders = new List<List<string>>();
        for (var start = 0; start < 16; start++)
        {
            var before = Fake.Requests.Count(r => r.Call == FakeCall.InsertInstance);
            await Assert.ThrowsAsync<ZonesExhaustedException>(() => backend.StartAsync(Bed.Attributes(4000 + start), Bed.ProgressSink(), CancellationToken.None));
            orders.Add(Fake.Requests.Where(r => r.Call == FakeCall.InsertInstance).Skip(before).Select(r => r.Path.Split('/')[6]).ToList());
        }

        Assert.All(orders, order => Assert.Equal(["us-central1-a", "us-central1-b", "us-central1-f"], order.Order(StringComparer.Ordinal)));
        Assert.All(orders, order => Assert.Equal("us-central1-a", order[2])); // the region's other zone only after the configured ones
        Assert.Equal(["us-central1-b", "us-central1-f"], orders.Select(o => o[0]).Distinct().Order(StringComparer.Ordinal));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_failure_after_the_insert_deletes_the_VM_at_once()
    {
        Fake.Fail(FakeCall.GetInstance, new FakeFault.Error(403, "forbidden"));

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("HTTP 403", job.RequeueReason);
        Assert.Equal(1, Fake.Count(FakeCall.InsertInstance));
        Assert.Equal(1, Fake.Count(FakeCall.DeleteInstance));
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_startup_timeout_during_the_insert_deletes_the_VM_on_its_own_token()
    {
        // The insert operation never finishes within the startup timeout.
        Fake.Fail(FakeCall.ZoneOperation, new FakeFault.Hang(TimeSpan.FromSeconds(30)));

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(("GCE_REQUEST_TIMEOUT", "20s")), "script: [ 'echo never' ]",
            startup: TimeSpan.FromSeconds(6));

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("starting the machine took longer than 6s", job.RequeueReason);
        Assert.True(1 == Fake.Count(FakeCall.DeleteInstance), string.Join("\n", Fake.Requests.Select(r => r.Method + " " + r.Path)) + "\n" + job.Log);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task An_insert_whose_answer_was_lost_and_that_lands_after_the_delete_is_followed_until_its_VM_is_gone()
    {
        // The API takes the insert but carries it out late, and its answer never comes. The fake
        // lands only an insert whose body it read: the request timeout leaves its handler 3 s for
        // that (with 1 s, a handler started late on a loaded machine found the request aborted once).
        Fake.Fail(FakeCall.InsertInstance, new FakeFault.LandLate(TimeSpan.FromSeconds(5)));
        await using var backend = Bed.Backend(("GCE_API_RETRIES", "0"), ("GCE_REQUEST_TIMEOUT", "3s"));

        var (_, job) = await GceTestBed.RunJobAsync(backend, "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        await Eventually.TrueAsync(() => !Fake.Created.IsEmpty, "the late insert made its VM",
            explain: () => string.Join("\n", Fake.Requests.Select(r => r.Method + " " + r.Path)));
        await Eventually.TrueAsync(() => Fake.InstanceNames.Count == 0, "the late VM is deleted",
            explain: () => string.Join("\n", Fake.Requests.Select(r => r.Method + " " + r.Path)));
    }

    [Fact]
    public async Task A_delete_after_a_failed_start_that_fails_is_tried_again_until_the_VM_is_gone()
    {
        Fake.Fail(FakeCall.GetInstance, new FakeFault.Error(403, "forbidden"));
        Fake.Fail(FakeCall.DeleteInstance, FakeFault.ServerError, times: 3); // more than the retries of one call
        await using var backend = Bed.Backend(("GCE_API_RETRIES", "1"));

        var (_, job) = await GceTestBed.RunJobAsync(backend, "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        await Eventually.TrueAsync(() => Fake.InstanceNames.Count == 0, "the VM is deleted in the end",
            explain: () => string.Join("\n", Fake.Requests.Select(r => r.Method + " " + r.Path)));
        Assert.Equal(1, Fake.Count(FakeCall.InsertInstance));
    }

    [Fact]
    public async Task A_job_asking_for_an_image_that_does_not_exist_is_errored_without_creating_anything()
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "image: no-such-image\nscript: [ 'echo never' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("no image in project test-project matches 'no-such-image'", job.Log);
        Assert.Equal(0, Fake.Count(FakeCall.InsertInstance));
    }

    [Fact]
    public async Task A_job_asking_for_volumes_is_refused_before_anything_is_created()
    {
        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "volumes: [ '/srv:/srv' ]\nscript: [ 'echo never' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("does not mount volumes", job.Log);
        Assert.Empty(Fake.Requests);
    }
}
