using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>
/// `worker run` on a host of a managed instance group, as Terraform configures it: the real process on
/// a fake metadata server (its instance, zone and created-by), the fake Compute API (its group) and the
/// fake Monitoring API. Jobs come from the file queue and run on the fake backend.
/// </summary>
public sealed class GroupHostingTests() : FakeGceTest(bootVms: false)
{
    private const string Group = "ci-worker-workers";
    private const string CreatedBy = $"projects/{FakeMetadataServer.ProjectNumber}/regions/us-central1/instanceGroupManagers/{Group}";
    private const string Metric = "custom.googleapis.com/worker/load";

    private Dictionary<string, string> Env(FakeMonitoringApi? monitoring, params (string Key, string Value)[] more)
    {
        var env = new Dictionary<string, string>
        {
            ["WORKER_PROVIDER_NAME"] = "fake",
            ["WORKER_FLEET"] = GceTestBed.Fleet,
            ["WORKER_GCE_API_ENDPOINT"] = Fake.Endpoint.ToString(),
            ["WORKER_GCE_API_RETRIES"] = "0",
        };
        if (monitoring is not null)
        {
            env["WORKER_GCE_MONITORING_ENDPOINT"] = monitoring.Endpoint.ToString();
            env["WORKER_GCE_LOAD_METRIC"] = Metric;
        }
        foreach (var (key, value) in more)
        {
            env["WORKER_" + key] = value;
        }
        return env;
    }

    [Fact]
    public async Task An_idle_host_writes_its_load_for_the_autoscaler_then_leaves_its_group_and_exits_0()
    {
        await using var metadata = await FakeMetadataServer.StartAsync(FakeComputeApi.Project, FakeComputeApi.Token, CreatedBy);
        await using var monitoring = await FakeMonitoringApi.StartAsync(FakeComputeApi.Token);
        Fake.AddGroup("regions", "us-central1", Group, 2, FakeMetadataServer.InstanceName, "ci-worker-worker-a1b2");

        var (exitCode, output) = await WorkerOnGce.RunAsync(metadata, Env(monitoring, ("IDLE_RETIRE", "2s"), ("MIN_HOSTS", "1")), "run");

        Assert.True(exitCode == 0, output);
        var point = Assert.Single(monitoring.Points); // written at start; the next is due after 60 s
        Assert.Equal(Metric, point.Metric);
        Assert.Equal(0, point.Value);
        Assert.Equal(FakeMetadataServer.InstanceId, point.Series["resource"]!["labels"]!["instance_id"]!.GetValue<string>());
        Assert.Equal(FakeMetadataServer.Zone, point.Series["resource"]!["labels"]!["zone"]!.GetValue<string>());
        Assert.Equal([FakeMetadataServer.InstanceName], Fake.LeftGroup(Group));
        Assert.Equal(1, Fake.GroupTargetSize(Group));
        var body = Assert.Single(Fake.Bodies, b => b.Call == FakeCall.DeleteGroupInstances).Body;
        Assert.Equal($"zones/{FakeMetadataServer.Zone}/instances/{FakeMetadataServer.InstanceName}", body["instances"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task Idle_retirement_off_gce_stops_start_up_naming_the_variable()
    {
        var (exitCode, output) = await WorkerOnGce.RunAsync(null, Env(null, ("IDLE_RETIRE", "15m")), "run");

        Assert.Equal(2, exitCode);
        Assert.Contains("WORKER_IDLE_RETIRE=15m is not valid", output);
    }

    [Fact]
    public async Task Idle_retirement_on_an_instance_no_group_created_stops_start_up_naming_the_variable()
    {
        await using var metadata = await FakeMetadataServer.StartAsync(FakeComputeApi.Project, FakeComputeApi.Token, createdBy: null);

        var (exitCode, output) = await WorkerOnGce.RunAsync(metadata, Env(null, ("IDLE_RETIRE", "15m")), "run");

        Assert.Equal(2, exitCode);
        Assert.Contains("WORKER_IDLE_RETIRE=15m is not valid", output);
        Assert.Contains("managed instance group", output);
    }

    [Fact]
    public async Task A_load_metric_that_is_not_a_custom_metric_stops_start_up_naming_the_variable()
    {
        await using var monitoring = await FakeMonitoringApi.StartAsync();

        var (exitCode, output) = await WorkerOnGce.RunAsync(null, Env(monitoring, ("GCE_LOAD_METRIC", "compute.googleapis.com/instance/cpu")), "run");

        Assert.Equal(2, exitCode);
        Assert.Contains("WORKER_GCE_LOAD_METRIC=compute.googleapis.com/instance/cpu is not valid", output);
    }
}
