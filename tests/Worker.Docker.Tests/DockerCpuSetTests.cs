using Worker.Core.Jobs;

namespace Worker.Docker.Tests;

/// <summary>Job containers pinned to CPUs of their own (<see cref="CpuSets"/>), on the real engine.</summary>
[Trait("Category", "Integration")]
public sealed class DockerCpuSetTests
{
    [Fact]
    public async Task A_job_sees_as_many_cpus_as_its_container_gets_as_it_did_on_travis_worker()
    {
        // The harness gives each container 1 CPU; the set is the engine's own CPUs, which it is asked for.
        await using var harness = await DockerHarness.CreateAsync();
        var (job, container) = await harness.InspectWhileRunningAsync("before_script: [\"nproc\"]");

        Assert.Matches("^[0-9]+$", container.HostConfig!.CpusetCpus);
        Assert.Equal(1_000_000_000, container.HostConfig.NanoCPUs);
        Assert.Contains("$ nproc\u001b[0m\n1\n", job.Log);
    }

    [Fact]
    public async Task Containers_at_once_get_different_cpus_and_one_removed_gives_its_cpus_to_the_next()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { CpusToPinWithin = 2 });
        using var client = DockerEngine.Client();
        async Task<string> PinnedCpusAsync(DockerInstance instance) =>
            (await client.Containers.InspectContainerAsync(instance.ContainerId)).HostConfig!.CpusetCpus;

        var first = await harness.StartMachineAsync(1);
        var second = await harness.StartMachineAsync(2);
        var (firstCpus, secondCpus) = (await PinnedCpusAsync(first), await PinnedCpusAsync(second));
        await first.StopAsync(CancellationToken.None);
        var third = await harness.StartMachineAsync(3);
        var thirdCpus = await PinnedCpusAsync(third);
        await second.StopAsync(CancellationToken.None);
        await third.StopAsync(CancellationToken.None);

        Assert.Equal(["0", "1"], new[] { firstCpus, secondCpus }.Order());
        Assert.Equal(firstCpus, thirdCpus);
    }

    [Fact]
    public async Task When_the_engine_does_not_say_its_cpu_count_that_container_is_not_pinned_and_the_next_asks_again()
    {
        await using var proxy = EngineProxy.Start();
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint });
        using var client = DockerEngine.Client();
        proxy.RefuseNext("^GET /(v[0-9.]+/)?info");

        var unpinned = await harness.StartMachineAsync(1);
        var pinned = await harness.StartMachineAsync(2);
        var (first, second) = ((await client.Containers.InspectContainerAsync(unpinned.ContainerId)).HostConfig!.CpusetCpus,
            (await client.Containers.InspectContainerAsync(pinned.ContainerId)).HostConfig!.CpusetCpus);
        await unpinned.StopAsync(CancellationToken.None);
        await pinned.StopAsync(CancellationToken.None);

        Assert.Equal("", first);
        Assert.Matches("^[0-9]+$", second);
        Assert.Equal(2, proxy.Requests.Count(r => r.Contains("/info", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_cpu_set_of_0_pins_nothing_and_the_cpus_are_a_quota_only()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { CpusToPinWithin = 0 });
        var (_, container) = await harness.InspectWhileRunningAsync("");

        Assert.Equal("", container.HostConfig!.CpusetCpus);
        Assert.Equal(1_000_000_000, container.HostConfig.NanoCPUs);
    }

    [Fact]
    public async Task A_standby_is_pinned_as_a_fresh_container_is_and_its_job_sees_its_cpus()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, CpusToPinWithin = 2 });
        await harness.Backend.Standby!.FillAsync(CancellationToken.None);
        using var client = DockerEngine.Client();
        var standby = await client.Containers.InspectContainerAsync(Assert.Single(harness.Backend.Standby.Ready));

        var (job, _) = await harness.RunAsync("script: [\"nproc\"]");

        Assert.Matches("^[01]$", standby.HostConfig!.CpusetCpus);
        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("$ nproc\u001b[0m\n1\n", job.Log);
        Assert.Contains("Using standby container", job.Log);
    }
}
