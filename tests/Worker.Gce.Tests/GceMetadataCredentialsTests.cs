using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>
/// How the worker runs in production: on a GCE VM with no key and no project configured, it asks the
/// metadata server for its project and, through Application Default Credentials, for the service
/// account's token. The real <c>worker</c> process, with <c>GCE_METADATA_HOST</c> pointing at a fake.
/// </summary>
public sealed class GceMetadataCredentialsTests() : FakeGceTest(bootVms: false)
{
    [Fact]
    public async Task With_no_key_and_no_project_the_worker_takes_both_from_the_metadata_server()
    {
        await using var metadata = await FakeMetadataServer.StartAsync(FakeComputeApi.Project, FakeComputeApi.Token);
        Fake.Seed("some-job-vm", "us-central1-a", "RUNNING");

        var (exitCode, output) = await RunWorkerAsync(metadata, "cleanup", "--once", "--dry-run");

        Assert.True(exitCode == 0, output);
        // The Compute API refuses any other token, and the project in the path came from the metadata server.
        Assert.Contains(Fake.Requests, r => r.Call == FakeCall.AggregatedInstances && r.Path.Contains($"projects/{FakeComputeApi.Project}/", StringComparison.Ordinal));
        Assert.Contains("/computeMetadata/v1/project/project-id", metadata.Requests);
        var token = Assert.Single(metadata.Requests, r => r.StartsWith("/computeMetadata/v1/instance/service-accounts/default/token", StringComparison.Ordinal));
        Assert.EndsWith("?scopes=https://www.googleapis.com/auth/compute", token);
        Assert.Equal(0, metadata.Refused);
    }

    [Fact]
    public async Task A_metadata_server_slower_than_its_first_timeout_is_asked_again_and_waited_for()
    {
        await using var metadata = await FakeMetadataServer.StartAsync(FakeComputeApi.Project, FakeComputeApi.Token);
        metadata.ProjectIdDelay = TimeSpan.FromSeconds(3);

        var (exitCode, output) = await RunWorkerAsync(metadata, "cleanup", "--once", "--dry-run");

        Assert.True(exitCode == 0, output);
        Assert.True(metadata.Requests.Count(r => r == "/computeMetadata/v1/project/project-id") >= 2, "the project id was asked for again");
        Assert.Contains(Fake.Requests, r => r.Call == FakeCall.AggregatedInstances && r.Path.Contains($"projects/{FakeComputeApi.Project}/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_VM_without_a_service_account_fails_the_pass_saying_where_the_token_was_to_come_from()
    {
        await using var metadata = await FakeMetadataServer.StartAsync(FakeComputeApi.Project, FakeComputeApi.Token);
        metadata.NoServiceAccount = true;

        var (exitCode, output) = await RunWorkerAsync(metadata, "cleanup", "--once", "--dry-run");

        Assert.True(exitCode == 1, output);
        Assert.Contains("Cleanup pass failed: No Compute API access token from Application Default Credentials (on GCE: the VM's service account", output);
        Assert.Equal(0, Fake.Requests.Count(r => r.Call == FakeCall.AggregatedInstances));
    }

    private Task<(int ExitCode, string Output)> RunWorkerAsync(FakeMetadataServer metadata, params string[] arguments) =>
        WorkerOnGce.RunAsync(metadata, new Dictionary<string, string>
        {
            ["WORKER_PROVIDER_NAME"] = "gce",
            ["WORKER_FLEET"] = GceTestBed.Fleet,
            ["WORKER_GCE_API_ENDPOINT"] = Fake.Endpoint.ToString(),
            ["WORKER_GCE_API_RETRIES"] = "0",
        }, arguments);
}
