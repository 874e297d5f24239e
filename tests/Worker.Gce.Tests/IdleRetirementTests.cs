using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;
using Worker.Gce.Hosting;
using Worker.Gce.Tests.Fakes;
using Worker.Http;
using Worker.TestSupport;

namespace Worker.Gce.Tests;

/// <summary>
/// Scale-in without killing a job: a real processor pool (fake backend) and its host's managed instance
/// group on the fake Compute API, which records the group calls the host makes.
/// </summary>
public sealed class IdleRetirementTests() : FakeGceTest(bootVms: false)
{
    private const string Group = "ci-worker-workers";
    private const string Self = "ci-worker-worker-x7k2";
    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(300);
    private static readonly GceHost Host = new(FakeComputeApi.Project, "us-central1-b", Self, "4567890123456789012",
        new InstanceGroupPath("regions", "us-central1", Group));

    private readonly ListLoggerProvider _log = new();
    private readonly InMemoryJobQueue _queue = new();
    private ProcessorPool _pool = null!;
    private Task _running = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Fake.Seed(Self, "us-central1-b", "RUNNING", new Dictionary<string, string> { ["role"] = "ci-worker-host" },
            metadata: new Dictionary<string, string> { ["created-by"] = $"projects/123456789012/regions/us-central1/instanceGroupManagers/{Group}" });
    }

    private void StartPool(TimeSpan jobRuns)
    {
        var options = new WorkerOptions { Teardown = TimeSpan.FromSeconds(10), FlushInterval = TimeSpan.FromMilliseconds(50), Fleet = GceTestBed.Fleet };
        var pipeline = new JobPipeline(options, new FakeBackend(new FakeOptions { Run = jobRuns }), new BuiltinScriptGenerator(), new JobCancellations(),
            new MachineLabels(GceTestBed.Fleet, Self, TimeSpan.FromMinutes(10)), NullLogger<JobPipeline>.Instance);
        _pool = new ProcessorPool(_queue, pipeline, 2, NullLogger<ProcessorPool>.Instance);
        _running = _pool.RunAsync(CancellationToken.None);
    }

    private IdleRetirement Retire(int minimum)
    {
        var compute = GceRegistration.CreateClient(GceOptions.Load(Bed.Settings()), Bed.Settings(), NullLoggerFactory.Instance);
        var group = new GceHostGroup(compute, Host, Host.Group!);
        return IdleRetirement.Start(new IdleRetirementOptions { IdleFor = Idle, Minimum = minimum }, _pool, group,
            LoggerFactory.Create(b => b.AddProvider(_log)).CreateLogger("run"));
    }

    private List<string> LogLines()
    {
        lock (_log.Lines)
        {
            return [.. _log.Lines];
        }
    }

    private InMemoryJob Enqueue(long id) => _queue.Enqueue(JobFile.Parse($"id: {id}\nscript: [\"true\"]", "builds.test"));

    private Task PoolStopped() => _running.WaitAsync(TimeSpan.FromSeconds(30));

    [Fact]
    public async Task An_idle_host_above_the_minimum_removes_its_own_instance_from_its_group_and_its_pool_drains()
    {
        Fake.AddGroup("regions", "us-central1", Group, 3, Self, "ci-worker-worker-a1b2", "ci-worker-worker-c3d4");
        StartPool(TimeSpan.Zero);
        await using var retirement = Retire(minimum: 2);

        await PoolStopped();

        var calls = Fake.Requests.Where(r => r.Call is FakeCall.GetGroup or FakeCall.DeleteGroupInstances).ToList();
        Assert.Equal([FakeCall.GetGroup, FakeCall.DeleteGroupInstances], calls.Select(c => c.Call));
        Assert.Equal($"/compute/v1/projects/{FakeComputeApi.Project}/regions/us-central1/instanceGroupManagers/{Group}", calls[0].Path);
        Assert.StartsWith($"/compute/v1/projects/{FakeComputeApi.Project}/regions/us-central1/instanceGroupManagers/{Group}/deleteInstances?requestId=", calls[1].Path);
        var body = Assert.Single(Fake.Bodies, b => b.Call == FakeCall.DeleteGroupInstances).Body;
        Assert.Equal([$"zones/us-central1-b/instances/{Self}"], body["instances"]!.AsArray().Select(i => i!.GetValue<string>()));
        Assert.False(body["skipInstancesOnValidationError"]!.GetValue<bool>());
        Assert.Equal([Self], Fake.LeftGroup(Group));
        Assert.Equal(2, Fake.GroupTargetSize(Group));
        Assert.True(_pool.Draining);
        Assert.Contains(LogLines(), l => l.StartsWith("Idle for", StringComparison.Ordinal) && l.Contains($"left regions/us-central1/instanceGroupManagers/{Group}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task At_the_minimum_an_idle_host_stays_asks_again_after_another_idle_period_and_keeps_taking_jobs()
    {
        Fake.AddGroup("regions", "us-central1", Group, 2, Self, "ci-worker-worker-a1b2");
        StartPool(TimeSpan.Zero);
        await using var retirement = Retire(minimum: 2);

        await Eventually.TrueAsync(() => Fake.Count(FakeCall.GetGroup) >= 2, "the host asked the group's size twice", explain: () => string.Join('\n', LogLines()));
        var job = Enqueue(701);

        Assert.Equal("passed", await job.Outcome.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, Fake.Count(FakeCall.DeleteGroupInstances));
        Assert.Equal(2, Fake.GroupTargetSize(Group));
        Assert.False(_pool.Draining);
        Assert.Contains(LogLines(), l => l.Contains("holds 2 host(s), not more than WORKER_MIN_HOSTS 2: staying", StringComparison.Ordinal));
    }

    [Fact]
    public async Task No_group_call_is_made_while_a_job_runs_and_the_host_leaves_only_after_an_idle_period_after_it()
    {
        Fake.AddGroup("regions", "us-central1", Group, 3, Self, "ci-worker-worker-a1b2", "ci-worker-worker-c3d4");
        StartPool(TimeSpan.FromSeconds(3)); // several idle periods long
        var job = Enqueue(702);
        await Eventually.TrueAsync(() => _pool.Statuses.Any(s => s.JobId == 702), "job 702 runs");
        await using var retirement = Retire(minimum: 1);

        Assert.Equal("passed", await job.Outcome.WaitAsync(TimeSpan.FromSeconds(30)));
        var groupCallsWhileItRan = Fake.Count(FakeCall.GetGroup) + Fake.Count(FakeCall.DeleteGroupInstances);
        await PoolStopped();

        Assert.Equal(0, groupCallsWhileItRan);
        Assert.Equal([Self], Fake.LeftGroup(Group));
        Assert.Equal(2, Fake.GroupTargetSize(Group));
    }

    [Fact]
    public async Task A_job_queued_while_the_host_is_deciding_is_left_on_the_queue_for_another_host()
    {
        Fake.AddGroup("regions", "us-central1", Group, 3, Self, "ci-worker-worker-a1b2", "ci-worker-worker-c3d4");
        // The group answers slowly: the job arrives while the host, which takes no job while it decides, is asking.
        Fake.Fail(FakeCall.GetGroup, new FakeFault.Hang(TimeSpan.FromSeconds(1)));
        StartPool(TimeSpan.Zero);
        await using var retirement = Retire(minimum: 1);
        await Eventually.TrueAsync(() => Fake.Count(FakeCall.GetGroup) >= 1, "the host asks the group's size");
        var job = Enqueue(703);

        await PoolStopped();

        Assert.Equal([Self], Fake.LeftGroup(Group));
        Assert.DoesNotContain(job, _queue.Delivered);
        Assert.Empty(job.Events);
    }

    [Fact]
    public async Task When_the_group_cannot_be_asked_or_refuses_the_host_stays_and_says_why()
    {
        Fake.AddGroup("regions", "us-central1", Group, 3, "ci-worker-worker-a1b2", "ci-worker-worker-c3d4"); // this host is not a member
        Fake.Fail(FakeCall.GetGroup, new FakeFault.Error(403, "forbidden"));
        StartPool(TimeSpan.Zero);
        await using var retirement = Retire(minimum: 1);

        await Eventually.TrueAsync(() => Fake.Count(FakeCall.DeleteGroupInstances) >= 1, "the host tries to leave after the 403",
            explain: () => string.Join('\n', LogLines()));
        await Eventually.TrueAsync(() => _pool.Size == 2, "the pool takes jobs again");

        Assert.Contains(LogLines(), l => l.Contains("could not leave", StringComparison.Ordinal) && l.Contains("HTTP 403", StringComparison.Ordinal));
        Assert.Contains(LogLines(), l => l.Contains("could not leave", StringComparison.Ordinal) && l.Contains("not a member of the instance group manager", StringComparison.Ordinal));
        Assert.Equal(3, Fake.GroupTargetSize(Group));
        Assert.False(_pool.Draining);
        Assert.Equal("passed", await Enqueue(704).Outcome.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
