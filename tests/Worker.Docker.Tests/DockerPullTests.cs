namespace Worker.Docker.Tests;

/// <summary>WORKER_DOCKER_PULL=missing against a real registry: what isn't here is pulled; what the registry hasn't got refuses the job.</summary>
[Trait("Category", "Integration")]
public sealed class DockerPullTests(LocalRegistry registry) : IClassFixture<LocalRegistry>
{
    [Fact]
    public async Task A_job_image_missing_on_this_host_is_pulled_from_its_registry_and_the_job_runs()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { PullMissing = true });
        try
        {
            var (job, verdict) = await harness.RunAsync($"image: {registry.Image}\nscript: [\"echo pulled and running\"]");

            Assert.Equal("passed", await job.Outcome);
            Assert.Contains($"Pulling image {registry.Image}.", job.Log);
            Assert.Contains("pulled and running", job.Log);
            Assert.Contains(registry.Image, job.Log); // the worker-info line names the image it ran on
        }
        finally
        {
            await registry.RemoveLocalTagAsync();
        }
    }

    [Fact]
    public async Task An_image_the_registry_does_not_have_is_refused_naming_it_not_requeued_and_nothing_is_created()
    {
        var since = DateTimeOffset.UtcNow;
        await using var harness = await DockerHarness.CreateAsync(o => o with { PullMissing = true },
            worker: new Worker.Core.Configuration.WorkerOptions { FlushInterval = TimeSpan.FromMilliseconds(50), Requeues = 3 });
        var missing = registry.Image.Replace(":bookworm", ":no-such-tag", StringComparison.Ordinal);
        var (job, verdict) = await harness.RunAsync($"image: {missing}\nscript: [\"true\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue);
        Assert.Contains($"image '{missing}' can't be pulled", job.Log);
        Assert.Contains("not found", job.Log);
        Assert.Empty(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
    }
}
