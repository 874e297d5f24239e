using System.Diagnostics;
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
    public async Task A_VM_without_a_service_account_fails_the_pass_saying_where_the_token_was_to_come_from()
    {
        await using var metadata = await FakeMetadataServer.StartAsync(FakeComputeApi.Project, FakeComputeApi.Token);
        metadata.NoServiceAccount = true;

        var (exitCode, output) = await RunWorkerAsync(metadata, "cleanup", "--once", "--dry-run");

        Assert.True(exitCode == 1, output);
        Assert.Contains("Cleanup pass failed: No Compute API access token from Application Default Credentials (on GCE: the VM's service account", output);
        Assert.Equal(0, Fake.Requests.Count(r => r.Call == FakeCall.AggregatedInstances));
    }

    private async Task<(int ExitCode, string Output)> RunWorkerAsync(FakeMetadataServer metadata, params string[] arguments)
    {
        var home = Directory.CreateTempSubdirectory("worker-gce-home-");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "worker.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // Nothing of this machine's own configuration or Google credentials may leak in.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("WORKER_", StringComparison.Ordinal) || k.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal)
                     || k.StartsWith("GOOGLE_", StringComparison.Ordinal) || k.StartsWith("GCE_", StringComparison.Ordinal) || k.StartsWith("CLOUDSDK_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["HOME"] = home.FullName;
        start.Environment[GceMetadata.HostVariable] = metadata.HostAndPort;
        start.Environment["WORKER_PROVIDER_NAME"] = "gce";
        start.Environment["WORKER_FLEET"] = GceTestBed.Fleet;
        start.Environment["WORKER_GCE_API_ENDPOINT"] = Fake.Endpoint.ToString();
        start.Environment["WORKER_GCE_API_RETRIES"] = "0";
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }
}
