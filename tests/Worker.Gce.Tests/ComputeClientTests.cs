using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>The API client's retries and its rate limit, against the fake Compute API.</summary>
public sealed class ComputeClientTests() : FakeGceTest(bootVms: false)
{
    private ComputeClient Client(params (string Key, string Value)[] overrides)
    {
        var settings = Bed.Settings(overrides);
        return GceRegistration.CreateClient(GceOptions.Load(settings), settings, NullLoggerFactory.Instance);
    }

    private static async Task<int> CountZonesAsync(ComputeClient client)
    {
        var n = 0;
        await foreach (var _ in client.ListAsync<ComputeZone>($"projects/{FakeComputeApi.Project}/zones", null, CancellationToken.None))
        {
            n++;
        }
        return n;
    }

    public static TheoryData<string, FakeFault> TransientFaults() => new()
    {
        { "429", FakeFault.TooManyRequests },
        { "500", FakeFault.ServerError },
        { "503", new FakeFault.Error(503, "backendError") },
        { "403 rateLimitExceeded", FakeFault.RateLimitExceeded },
        { "a garbled body", new FakeFault.BadJson() },
        { "no answer", new FakeFault.Hang(TimeSpan.FromMinutes(2)) },
    };

    [Theory]
    [MemberData(nameof(TransientFaults))]
    public async Task A_transient_fault_is_retried_until_the_call_succeeds(string what, FakeFault fault)
    {
        Fake.Fail(FakeCall.ListZones, fault, times: 2);

        // A hang is a timeout past 5 s, which the good call must not reach even on a loaded machine.
        var zones = await CountZonesAsync(Client(("GCE_REQUEST_TIMEOUT", "5s")));

        Assert.True(zones == Fake.Zones.Length, what);
        Assert.Equal(3, Fake.Count(FakeCall.ListZones));
    }

    [Fact]
    public async Task Retries_stop_after_API_RETRIES_and_the_last_error_is_thrown()
    {
        Fake.Fail(FakeCall.ListZones, FakeFault.ServerError, times: 10);

        var error = await Assert.ThrowsAsync<ComputeApiException>(() => CountZonesAsync(Client(("GCE_API_RETRIES", "2"))));

        Assert.Equal(500, error.Status);
        Assert.Equal(3, Fake.Count(FakeCall.ListZones));
    }

    [Fact]
    public async Task A_permanent_error_is_not_retried()
    {
        Fake.Fail(FakeCall.ListZones, new FakeFault.Error(403, "forbidden"), times: 10);

        var error = await Assert.ThrowsAsync<ComputeApiException>(() => CountZonesAsync(Client()));

        Assert.Equal(403, error.Status);
        Assert.Contains("forbidden", error.Reasons);
        Assert.Equal(1, Fake.Count(FakeCall.ListZones));
    }

    [Fact]
    public async Task A_wrong_token_is_refused_by_the_API_and_not_retried()
    {
        var error = await Assert.ThrowsAsync<ComputeApiException>(() => CountZonesAsync(Client(("GCE_ACCESS_TOKEN", "stolen"))));

        Assert.Equal(401, error.Status);
        Assert.Equal(1, Fake.Count(FakeCall.ListZones));
    }

    [Fact]
    public async Task The_rate_limit_is_shared_by_all_callers_of_one_client()
    {
        var client = Client(("GCE_RATE_LIMIT", "20"));
        // One call first, so compiling the client and opening its connection don't delay the
        // timed calls' arrival unevenly (CI once saw call 1 arrive late enough to crowd the window).
        await CountZonesAsync(client);
        var warmUp = Fake.Requests.Count;
        var clock = Stopwatch.StartNew();

        // Four processors making ten calls each: 40 calls at 20 per second take about two seconds.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                await CountZonesAsync(client);
            }
        })));

        // The limit makes the calls take long enough; a loaded machine only makes them take longer.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.8), $"40 calls at 20 per second took {clock.Elapsed}");
        var times = Fake.Requests.Select(r => r.At).Order().Skip(warmUp).ToList();
        Assert.Equal(40, times.Count);
        // At 20 per second, 30 calls span 1.45 s; a call that arrives up to 450 ms late (a loaded
        // machine) still leaves a second. Without the limit all 40 arrive within a fraction of one.
        for (var i = 0; i + 29 < times.Count; i++)
        {
            Assert.True(times[i + 29] - times[i] >= TimeSpan.FromSeconds(1), $"30 calls within one second, from call {i}");
        }
    }

    [Fact]
    public async Task Aggregated_lists_follow_every_page()
    {
        for (var i = 0; i < 5; i++)
        {
            Fake.Seed($"vm-{i}", Fake.Zones[i % 3], "RUNNING");
        }
        var names = new List<string>();

        await foreach (var instance in Client().AggregatedInstancesAsync(null, CancellationToken.None))
        {
            names.Add(instance.Name);
        }

        Assert.Equal(["vm-0", "vm-1", "vm-2", "vm-3", "vm-4"], names.Order());
        Assert.Equal(3, Fake.Count(FakeCall.AggregatedInstances)); // two a page
    }
}
