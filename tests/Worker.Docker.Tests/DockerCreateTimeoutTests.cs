namespace Worker.Docker.Tests;

/// <summary>
/// A container create the engine carries out but answers too late, never, or with its connection cut
/// instead of the answer: the job gives up on it, and the container that was made anyway is followed
/// until it is gone, on the real engine behind a proxy that injects the fault.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerCreateTimeoutTests
{
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData("late")] // removed by its id once the answer comes
    [InlineData("lost")] // no answer ever: found by its name
    [InlineData("cut")] // the connection ends instead of the answer: found by its name
    public async Task The_container_of_a_create_the_job_gave_up_on_is_removed(string fault)
    {
        await using var proxy = EngineProxy.Start();
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint, CreateTimeout = CreateTimeout });
        const string create = "^POST /containers/create";
        var seen = fault switch
        {
            "late" => proxy.DelayAnswer(create, TimeSpan.FromSeconds(4)),
            "lost" => proxy.LoseAnswer(create),
            _ => proxy.DropAnswer(create),
        };

        var (job, _) = await harness.RunAsync("script: [\"echo never\"]");

        Assert.True(seen.Seen.Task.IsCompleted);
        Assert.Contains("did not answer the create of container", job.Log);
        Assert.NotEqual("passed", await job.Outcome);
        await Eventually.TrueAsync(async () => (await harness.ContainersAsync()).Count == 0, "the container made anyway is removed");
        Assert.Contains(await DockerEngine.CreateEventsAsync(harness.Fleet, DateTimeOffset.UtcNow.AddMinutes(-2)), id => id.Length > 0); // it was made
    }
}
