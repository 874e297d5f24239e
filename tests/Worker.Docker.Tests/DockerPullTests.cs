using Worker.Core.Images;

namespace Worker.Docker.Tests;

/// <summary>
/// WORKER_DOCKER_PULL against a real registry: with missing, what isn't here is pulled and what the
/// registry hasn't got refuses the job; with always, a tag moved in the registry is taken by the
/// next job (a standby made before the move is not taken), a registry that is down leaves the job the
/// host's copy, a local tag is not pulled, and the image a moved tag left is removed (by the next
/// worker to start, when a container still used it as the last one stopped).
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerPullTests(LocalRegistry registry) : IClassFixture<LocalRegistry>
{
    [Fact]
    public async Task A_job_image_missing_on_this_host_is_pulled_from_its_registry_and_the_job_runs()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { PullPolicy = ImagePullPolicy.Missing });
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
        await using var harness = await DockerHarness.CreateAsync(o => o with { PullPolicy = ImagePullPolicy.Missing },
            worker: new Worker.Core.Configuration.WorkerOptions { FlushInterval = TimeSpan.FromMilliseconds(50), Requeues = 3 });
        var missing = registry.Image.Replace(":bookworm", ":no-such-tag", StringComparison.Ordinal);
        var (job, verdict) = await harness.RunAsync($"image: {missing}\nscript: [\"true\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue);
        Assert.Contains($"image '{missing}' can't be pulled", job.Log);
        Assert.Contains("not found", job.Log);
        Assert.Empty(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
    }

    [Fact]
    public async Task With_always_a_tag_moved_in_the_registry_is_what_the_next_job_runs_on()
    {
        var image = await registry.PushAsync("moving");
        await using var harness = await DockerHarness.CreateAsync(o => o with { PullPolicy = ImagePullPolicy.Always });
        try
        {
            var (first, _) = await harness.RunAsync($"image: {image}\nscript: [\"cat /marker 2>/dev/null || echo no marker\"]");
            Assert.Equal("passed", await first.Outcome);
            Assert.Contains("no marker", first.Log);

            await registry.PushAsync("moving", marker: "moved in the registry");
            await LocalRegistry.TagAsync(DockerEngine.Image, image); // this host's copy is still the old one
            var (second, _) = await harness.RunAsync($"image: {image}\nscript: [\"cat /marker 2>/dev/null || echo no marker\"]");

            Assert.Equal("passed", await second.Outcome);
            Assert.Contains("moved in the registry", second.Log);
            Assert.DoesNotContain("failed", second.Log);
        }
        finally
        {
            await LocalRegistry.RemoveQuietlyAsync(image);
        }
    }

    [Fact]
    public async Task With_always_a_registry_that_is_down_leaves_the_job_this_hosts_copy_and_its_log_says_so()
    {
        var gone = new LocalRegistry();
        await gone.InitializeAsync();
        try
        {
            await using var harness = await DockerHarness.CreateAsync(o => o with { PullPolicy = ImagePullPolicy.Always });
            var (first, _) = await harness.RunAsync($"image: {gone.Image}\nscript: [\"true\"]");
            Assert.Equal("passed", await first.Outcome);
            await gone.StopAsync();

            var (second, verdict) = await harness.RunAsync($"image: {gone.Image}\nscript: [\"echo ran on the copy\"]");

            Assert.Equal("passed", await second.Outcome);
            Assert.Contains($"Pulling image {gone.Image} failed", second.Log);
            Assert.Contains("using this host's copy", second.Log);
            Assert.Contains("ran on the copy", second.Log);
        }
        finally
        {
            await gone.DisposeAsync();
        }
    }

    [Fact]
    public async Task With_always_a_registry_that_hangs_leaves_the_job_this_hosts_copy_once_the_pull_goes_silent()
    {
        var hung = new LocalRegistry();
        await hung.InitializeAsync();
        try
        {
            await using var harness = await DockerHarness.CreateAsync(o => o with
            {
                PullPolicy = ImagePullPolicy.Always,
                RefreshSilenceLimit = TimeSpan.FromSeconds(2),
            });
            var (first, _) = await harness.RunAsync($"image: {hung.Image}\nscript: [\"true\"]");
            Assert.Equal("passed", await first.Outcome);
            using var listener = await hung.HangAsync();

            var (second, _) = await harness.RunAsync($"image: {hung.Image}\nscript: [\"echo ran on the copy\"]");

            Assert.Equal("passed", await second.Outcome);
            Assert.Contains($"Pulling image {hung.Image} failed (no progress for 2s)", second.Log);
            Assert.Contains("ran on the copy", second.Log);
            listener.Stop();
        }
        finally
        {
            await hung.DisposeAsync();
        }
    }

    [Fact]
    public async Task With_always_a_standby_made_before_its_images_tag_moved_is_not_taken_and_one_made_after_is()
    {
        var image = await registry.PushAsync("standby-moving");
        await using var harness = await DockerHarness.CreateAsync(o => o with { DefaultImage = image, StandbyCount = 1, PullPolicy = ImagePullPolicy.Always });
        try
        {
            var pool = harness.Backend.Standby!;
            await pool.FillAsync(CancellationToken.None);
            var (first, _) = await harness.RunAsync("script: [\"cat /marker 2>/dev/null || echo no marker\"]");
            Assert.Equal("passed", await first.Outcome);
            Assert.Contains("Using standby container", first.Log); // its tag had not moved
            Assert.Contains("no marker", first.Log);

            await pool.FillAsync(CancellationToken.None);
            var stale = Assert.Single(pool.Ready);
            await registry.PushAsync("standby-moving", marker: "moved in the registry");
            await LocalRegistry.TagAsync(DockerEngine.Image, image); // this host's copy is still the old one
            var (second, _) = await harness.RunAsync("script: [\"cat /marker 2>/dev/null || echo no marker\"]");

            Assert.Equal("passed", await second.Outcome);
            Assert.Contains("moved in the registry", second.Log);
            Assert.DoesNotContain("Using standby container", second.Log);
            for (var waited = 0; (await DockerEngine.ContainersOfFleetAsync(harness.Fleet)).Any(c => c.ID == stale); waited++)
            {
                Assert.True(waited < 100, "the stale standby was not removed");
                await Task.Delay(100);
            }

            await pool.FillAsync(CancellationToken.None);
            var (third, _) = await harness.RunAsync("script: [\"cat /marker 2>/dev/null || echo no marker\"]");
            Assert.Contains("Using standby container", third.Log); // made after the move
            Assert.Contains("moved in the registry", third.Log);
        }
        finally
        {
            await LocalRegistry.RemoveQuietlyAsync(image);
        }
    }

    [Fact]
    public async Task With_always_a_registry_that_is_down_leaves_the_job_its_standby()
    {
        var gone = new LocalRegistry();
        await gone.InitializeAsync();
        try
        {
            await using var harness = await DockerHarness.CreateAsync(o => o with { DefaultImage = gone.Image, StandbyCount = 1, PullPolicy = ImagePullPolicy.Always });
            await harness.Backend.Standby!.FillAsync(CancellationToken.None);
            await gone.StopAsync();

            var (job, _) = await harness.RunAsync("script: [\"echo ran on the standby\"]");

            Assert.Equal("passed", await job.Outcome);
            Assert.Contains($"Pulling image {gone.Image} failed", job.Log);
            Assert.Contains("Using standby container", job.Log);
            Assert.Contains("ran on the standby", job.Log);
        }
        finally
        {
            await gone.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_always_the_image_a_moved_tag_left_behind_is_removed_unless_another_name_gives_it(bool namedElsewhere)
    {
        var image = await registry.PushAsync("superseded", marker: "first");
        var keep = $"worker-test-keep:{Guid.NewGuid():N}";
        using var client = DockerEngine.Client();
        await using var harness = await DockerHarness.CreateAsync(o => o with { PullPolicy = ImagePullPolicy.Always });
        try
        {
            var (first, _) = await harness.RunAsync($"image: {image}\nscript: [\"cat /marker\"]");
            Assert.Contains("first", first.Log);
            var old = (await client.Images.InspectImageAsync(image)).ID;
            await registry.PushAsync("superseded", marker: "second");
            await LocalRegistry.TagAsync(old, image); // this host's copy is still the first
            if (namedElsewhere)
            {
                await LocalRegistry.TagAsync(old, keep);
            }

            var (second, _) = await harness.RunAsync($"image: {image}\nscript: [\"cat /marker\"]");

            Assert.Contains("second", second.Log);
            var gone = false;
            for (var waited = 0; waited < 30 && !gone; waited++)
            {
                await Task.Delay(100);
                gone = !(await client.Images.ListImagesAsync(new global::Docker.DotNet.Models.ImagesListParameters { All = true })).Any(i => i.ID == old);
            }
            Assert.Equal(!namedElsewhere, gone);
        }
        finally
        {
            await LocalRegistry.RemoveQuietlyAsync(image);
            await LocalRegistry.RemoveQuietlyAsync(keep);
        }
    }

    [Fact]
    public async Task With_always_the_image_a_moved_tag_left_while_a_container_used_it_is_removed_by_the_worker_that_starts_next()
    {
        var image = await registry.PushAsync("superseded-restart", marker: "first");
        var state = Directory.CreateTempSubdirectory("docker-state-").FullName;
        using var client = DockerEngine.Client();
        string? holder = null;
        try
        {
            string old;
            await using (var before = await DockerHarness.CreateAsync(o => o with { PullPolicy = ImagePullPolicy.Always, StateDirectory = state }))
            {
                await before.RunAsync($"image: {image}\nscript: [\"true\"]");
                old = (await client.Images.InspectImageAsync(image)).ID;
                // A container still on the old image when the worker stops (a job it ran, not yet removed).
                holder = (await client.Containers.CreateContainerAsync(new global::Docker.DotNet.Models.CreateContainerParameters { Image = old, Cmd = ["true"] })).ID;
                await registry.PushAsync("superseded-restart", marker: "second");
                await LocalRegistry.TagAsync(old, image);

                var (second, _) = await before.RunAsync($"image: {image}\nscript: [\"cat /marker\"]");

                Assert.Contains("second", second.Log);
                Assert.Contains(old, File.ReadAllText(Path.Combine(state, SupersededImages.FileName)));
            }
            Assert.Contains(await client.Images.ListImagesAsync(new global::Docker.DotNet.Models.ImagesListParameters { All = true }), i => i.ID == old);
            await client.Containers.RemoveContainerAsync(holder, new global::Docker.DotNet.Models.ContainerRemoveParameters { Force = true });
            holder = null;

            await using var after = await DockerHarness.CreateAsync(o => o with { PullPolicy = ImagePullPolicy.Always, StateDirectory = state });

            var gone = false;
            for (var waited = 0; waited < 150 && !gone; waited++)
            {
                await Task.Delay(100);
                gone = !(await client.Images.ListImagesAsync(new global::Docker.DotNet.Models.ImagesListParameters { All = true })).Any(i => i.ID == old);
            }
            Assert.True(gone, "the worker that started next removed the image the moved tag left");
            Assert.DoesNotContain(old, File.ReadAllText(Path.Combine(state, SupersededImages.FileName)));
        }
        finally
        {
            if (holder is not null)
            {
                await client.Containers.RemoveContainerAsync(holder, new global::Docker.DotNet.Models.ContainerRemoveParameters { Force = true });
            }
            await LocalRegistry.RemoveQuietlyAsync(image);
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public async Task With_always_an_image_never_pulled_under_its_name_here_is_not_pulled()
    {
        await using var proxy = EngineProxy.Start();
        await using var harness = await DockerHarness.CreateAsync(o => o with { EndpointUri = proxy.Endpoint, PullPolicy = ImagePullPolicy.Always });

        var (job, _) = await harness.RunAsync($"image: {DockerEngine.Image}\nscript: [\"true\"]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains(proxy.Requests, r => r.StartsWith("GET /images/", StringComparison.Ordinal)); // looked at
        Assert.DoesNotContain(proxy.Requests, r => r.Contains("/images/create", StringComparison.Ordinal));
    }
}
