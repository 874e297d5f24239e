using Worker.Core.Backends;

namespace Worker.Docker.Tests;

/// <summary>Standby containers on the real engine: hand-over, a new one behind it, other images fresh, nothing left.</summary>
[Trait("Category", "Integration")]
public sealed class DockerStandbyTests
{
    [Fact]
    public async Task A_job_on_the_default_image_takes_a_ready_standby_and_a_new_one_starts_behind_it()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1 });
        var pool = harness.Backend.Standby!;
        await pool.FillAsync(CancellationToken.None);
        var standby = Assert.Single(pool.Ready);
        var idle = Assert.Single(await harness.ContainersAsync());
        Assert.Equal("true", idle.Labels[MachineLabels.Standby]);
        Assert.False(idle.Labels.ContainsKey(MachineLabels.JobId));

        var (job, _) = await harness.RunAsync("script: [\"echo on a standby\"]");
        await pool.FillAsync(CancellationToken.None);

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("on a standby", job.Log);
        Assert.Contains($"started:{standby[..12]}", job.Events);
        var next = Assert.Single(pool.Ready);
        Assert.NotEqual(standby, next);
        Assert.Equal(next, Assert.Single(await harness.ContainersAsync()).ID);
    }

    [Fact]
    public async Task A_standby_of_an_image_whose_user_is_not_root_runs_the_job_as_that_user()
    {
        var image = await DockerEngine.NonRootImageAsync();
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, DefaultImage = image });
        var pool = harness.Backend.Standby!;
        await pool.FillAsync(CancellationToken.None);
        var standby = Assert.Single(pool.Ready);

        var (job, _) = await harness.RunAsync("script: [\"id -un\", \"pwd\"]");

        Assert.True(await job.Outcome == "passed", job.Log);
        Assert.Contains($"started:{standby[..12]}", job.Events);
        Assert.Contains("\nbuilder\n", job.Log);
        Assert.Contains("\n/home/builder\n", job.Log);
    }

    [Fact]
    public async Task A_standby_of_an_image_without_bash_errors_its_job_at_once_saying_so()
    {
        var image = await DockerEngine.NoBashImageAsync();
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, DefaultImage = image },
            DockerHarness.DefaultWorkerOptions with { Requeues = 3 });
        var pool = harness.Backend.Standby!;
        await pool.FillAsync(CancellationToken.None);
        var standby = Assert.Single(pool.Ready);

        var (job, verdict) = await harness.RunAsync("script: [\"echo never\"]");

        Assert.Contains($"started:{standby[..12]}", job.Events);
        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue, "the image is the same on every host: trying again elsewhere can't help");
        Assert.Contains($"image '{image}' has no bash, which runs the job's script", job.Log);
        Assert.DoesNotContain(standby, (await harness.ContainersAsync()).Select(c => c.ID));
    }

    [Fact]
    public async Task A_job_asking_for_another_image_or_other_limits_gets_a_fresh_container_and_the_standby_stays_ready()
    {
        var alias = "worker-job-alias-" + Guid.NewGuid().ToString("N")[..8];
        using var client = DockerEngine.Client();
        await client.Images.TagImageAsync(DockerEngine.Image, new global::Docker.DotNet.Models.ImageTagParameters { RepositoryName = alias, Tag = "test" });
        try
        {
            await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1 });
            var pool = harness.Backend.Standby!;
            await pool.FillAsync(CancellationToken.None);
            var standby = Assert.Single(pool.Ready);

            var (otherImage, _) = await harness.RunAsync($"image: {alias}:test\nscript: [\"true\"]");
            var (otherLimits, _) = await harness.RunAsync("cpus: 0.5\nscript: [\"true\"]");

            Assert.Equal("passed", await otherImage.Outcome);
            Assert.Equal("passed", await otherLimits.Outcome);
            Assert.DoesNotContain($"started:{standby[..12]}", otherImage.Events);
            Assert.DoesNotContain($"started:{standby[..12]}", otherLimits.Events);
            Assert.Equal(standby, Assert.Single(pool.Ready));
        }
        finally
        {
            await client.Images.DeleteImageAsync($"{alias}:test", new global::Docker.DotNet.Models.ImageDeleteParameters());
        }
    }

    [Fact]
    public async Task The_inventory_reports_a_taken_standby_with_its_jobs_id_and_deadline()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1 });
        await harness.Backend.Standby!.FillAsync(CancellationToken.None);
        var standby = Assert.Single(harness.Backend.Standby.Ready);
        var job = harness.Enqueue("id: 777001\ntimeout: 10m\nscript: [\"echo ready\", \"sleep 300\"]");
        var run = harness.RunNextAsync();
        await DockerHarness.WaitForLogAsync(job, "ready\n");
        var machines = await harness.InventoryAsync();
        harness.Cancellations.Cancel(777001, "seen");
        await run;

        var taken = Assert.Single(machines, m => m.Id == standby);
        Assert.Equal("777001", taken.Labels[MachineLabels.JobId]);
        Assert.Equal("taken", taken.Labels[MachineLabels.Standby]);
        var deadline = DateTimeOffset.FromUnixTimeSeconds(long.Parse(taken.Labels[MachineLabels.Deadline], System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(deadline, DateTimeOffset.UtcNow + TimeSpan.FromMinutes(10), DateTimeOffset.UtcNow + TimeSpan.FromMinutes(16));
        Assert.Equal(MachineState.Running, taken.State);
    }

    [Fact]
    public async Task A_standby_that_cannot_start_never_blocks_jobs()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 1, DefaultImage = "worker-job-not-built-here:never" });
        var pool = harness.Backend.Standby!;
        var fill = pool.FillAsync(CancellationToken.None);
        Assert.Same(fill, await Task.WhenAny(fill, Task.Delay(TimeSpan.FromSeconds(30))));

        var (job, _) = await harness.RunAsync($"image: {DockerEngine.Image}\nscript: [\"echo fresh\"]");

        Assert.Empty(pool.Ready);
        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("fresh", job.Log);
    }

    [Fact]
    public async Task Disposing_the_backend_removes_the_idle_standbys()
    {
        var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = 2 });
        await harness.Backend.Standby!.FillAsync(CancellationToken.None);
        Assert.Equal(2, (await harness.ContainersAsync()).Count);

        await harness.DisposeAsync(); // asserts that nothing of the fleet is left
    }
}
