using Worker.Core.Backends;

namespace Worker.Docker.Tests;

/// <summary>
/// A job's container is removed as soon as its script has ended, overlapping the report of the
/// result (as <c>docker run --rm</c> has the engine do), and the teardown waits for that removal or
/// makes it again when it failed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerRemovalTests
{
    [Fact]
    public async Task A_containers_removal_starts_when_its_script_ends_before_the_teardown_asks_for_it()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var instance = await StartAsync(harness, 31401);

        var result = await instance.RunScriptAsync(new CollectingLog(), CancellationToken.None);

        Assert.Equal(RunResult.Exited(0), result);
        await Eventually.TrueAsync(async () => (await harness.ContainersAsync()).Count == 0, "the container is removed without StopAsync");
        await instance.StopAsync(CancellationToken.None); // waits for the removal that is done: fine
    }

    [Fact]
    public async Task A_removal_after_the_script_that_the_engine_refused_is_made_again_at_teardown()
    {
        await using var proxy = EngineProxy.Start();
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint });
        var instance = await StartAsync(harness, 31402);
        proxy.RefuseNext("^DELETE /containers/");

        await instance.RunScriptAsync(new CollectingLog(), CancellationToken.None);
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Requests.Count(r => r.StartsWith("DELETE ", StringComparison.Ordinal)) == 1),
            "the removal after the script was asked for");
        Assert.Single(await harness.ContainersAsync());
        await instance.StopAsync(CancellationToken.None);

        Assert.Empty(await harness.ContainersAsync());
        Assert.Equal(2, proxy.Requests.Count(r => r.StartsWith("DELETE ", StringComparison.Ordinal)));
    }

    private static async Task<IInstance> StartAsync(DockerHarness harness, long jobId)
    {
        var instance = await harness.StartMachineAsync(jobId);
        await instance.UploadScriptAsync("#!/bin/bash\ntrue\n", CancellationToken.None);
        return instance;
    }
}
