using System.Diagnostics;
using System.Globalization;
using Worker.Gce.Tests.Fakes;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// 429 and 5xx storms and hangs on the Compute API (the GCE tests' fake, whose VMs are real sshds)
/// while a worker runs GCE jobs: inserts refused for rate, reads and deletes failing, operations
/// that hang past the request timeout. No job lost, the worker serves on, and no VM is left once the
/// worker (or `worker cleanup`) is done.
/// </summary>
internal sealed class ComputeApiStorm : IScenario
{
    public string Name => "Compute API 429/5xx storms and hangs (GCE)";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? 6 : 20;
        var queue = ChaosContext.NewQueue("gce");
        var logs = context.Folder("logs/" + queue);
        await using var fake = await FakeComputeApi.StartAsync();
        await using var tally = await StateTally.StartAsync(context.Broker);
        var env = context.AmqpWorker(queue, "chaos-gce-host", null, [("PROVIDER_NAME", "gce"), ("POOL_SIZE", "2"), .. Gce(fake)]);
        var worker = new ChaosWorker("host1", env, logs);
        var workers = new[] { worker };
        var clock = Stopwatch.StartNew();
        try
        {
            var storm = isShort ? 4 : 12;
            fake.Fail(FakeCall.InsertInstance, FakeFault.TooManyRequests, times: storm);
            fake.Fail(FakeCall.InsertInstance, FakeFault.ServerError, times: storm / 2);
            fake.Fail(FakeCall.GetInstance, FakeFault.ServerError, times: storm);
            fake.Fail(FakeCall.ZoneOperation, FakeFault.TooManyRequests, times: storm);
            fake.Fail(FakeCall.ZoneOperation, new FakeFault.Hang(TimeSpan.FromSeconds(30)), times: 2);
            fake.Fail(FakeCall.DeleteInstance, FakeFault.ServerError, times: storm / 2);
            fake.Fail(FakeCall.DeleteInstance, new FakeFault.Hang(TimeSpan.FromSeconds(30)), times: 1);
            worker.Start();
            var payloads = ChaosContext.Jobs(count, queue);
            await context.Broker.PublishAsync(queue, payloads.Select(p => p.ToUtf8Bytes()));
            var ids = payloads.Select(p => p.JobId).ToList();
            var (lost, twice, duplicates) = await context.SettleAsync(tally, ids, queue, TimeSpan.FromMinutes(isShort ? 3 : 6), workers);
            var failures = ChaosContext.Goal(lost);
            var inserts = fake.Count(FakeCall.InsertInstance);
            Console.WriteLine($"  {inserts} inserts for {fake.Created.Count} VMs, {fake.Count(FakeCall.ZoneOperation)} operation polls, {fake.Count(FakeCall.DeleteInstance)} deletes");
            if (inserts < storm + storm / 2)
            {
                failures.Add($"the storm did not hit: {inserts} inserts");
            }
            failures.AddRange(await ChaosContext.LivenessAsync(workers, TimeSpan.FromSeconds(90)));
            await worker.StopAsync(TimeSpan.FromSeconds(90));
            if (fake.InstanceNames.Count > 0)
            {
                var (_, output) = await DockerLeftovers.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "worker.dll"), "cleanup", "--once"], env);
                await File.WriteAllTextAsync(Path.Combine(logs, "cleanup.log"), output);
            }
            if (fake.InstanceNames.Count > 0)
            {
                failures.Add($"{fake.InstanceNames.Count} VM(s) left after worker cleanup: {string.Join(", ", fake.InstanceNames)}");
            }
            return new ScenarioResult($"{Name}, {fake.Created.Count} VMs", count, lost, twice, duplicates, clock.Elapsed, failures);
        }
        finally
        {
            await worker.DisposeAsync();
        }
    }

    /// <summary>The GCE backend on the fake, as the GCE tests set it up (short sleeps, requests timing out after 5 s).</summary>
    private static (string, string)[] Gce(FakeComputeApi fake) =>
    [
        ("GCE_API_ENDPOINT", fake.Endpoint.ToString()),
        ("GCE_ACCESS_TOKEN", FakeComputeApi.Token),
        ("GCE_PROJECT_ID", FakeComputeApi.Project),
        ("GCE_ZONE", "us-central1-a"),
        ("GCE_HOST_INSTANCE", "chaos-gce-host"),
        ("GCE_BOOT_PRE_POLL_SLEEP", "0"),
        ("GCE_BOOT_POLL_SLEEP", "100ms"),
        ("GCE_STOP_POLL_SLEEP", "100ms"),
        ("GCE_UPLOAD_RETRIES", "3"),
        ("GCE_UPLOAD_RETRY_SLEEP", "200ms"),
        ("GCE_SSH_DIAL_TIMEOUT", "5s"),
        ("GCE_SSH_USER", fake.VmUser),
        ("GCE_SSH_PORT", fake.SshPort.ToString(CultureInfo.InvariantCulture)),
        ("GCE_RATE_LIMIT", "0"),
        ("GCE_API_RETRIES", "4"),
        ("GCE_BACKOFF_RETRY_MAX", "500ms"),
        ("GCE_REQUEST_TIMEOUT", "5s"),
    ];
}
