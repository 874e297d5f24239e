namespace Worker.Docker.Tests;

/// <summary>
/// WORKER_DOCKER_CMD (travis-worker's DOCKER_CMD) on the real engine: each job's container is started
/// with the image's init as its main process and the script runs in it by exec, as on travis-worker.
/// A cancel and a hard timeout under an init are in <see cref="DockerJobTests"/>, beside those of the runner.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DockerMainCommandTests
{
    /// <summary>The script waits for the init's service itself: the worker does not wait for what the init starts.</summary>
    private static readonly string SeesTheInitsService = $$"""
        script:
          - echo "main process $(tr '\0' ' ' < /proc/1/cmdline)"
          - for i in $(seq 100); do test -s {{DockerEngine.InitServicePidFile}} && break; sleep 0.1; done
          - kill -0 "$(cat {{DockerEngine.InitServicePidFile}})" && echo "the init's service runs"
          - for i in $(seq 100); do test -s {{DockerEngine.InitServiceHeartbeat}} && break; sleep 0.1; done
          - test -s {{DockerEngine.InitServiceHeartbeat}} && echo "and it beats"
        """;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_jobs_script_runs_by_exec_beside_the_images_init_and_sees_the_services_it_started(int standby)
    {
        var underInit = await DockerHarness.UnderInitAsync();
        await using var harness = await DockerHarness.CreateAsync(o => underInit(o) with { StandbyCount = standby });
        if (harness.Backend.Standby is { } pool)
        {
            await pool.FillAsync(CancellationToken.None);
            Assert.Single(pool.Ready);
        }

        var (job, verdict) = await harness.RunAsync(SeesTheInitsService);

        Assert.True(await job.Outcome == "passed", job.Log);
        Assert.Equal(0, verdict.ExitCode);
        Assert.Contains("main process /bin/sh /sbin/init \n", job.Log);
        Assert.Contains("the init's service runs\n", job.Log);
        Assert.Contains("and it beats\n", job.Log);
        Assert.Equal(standby == 1, job.Log.Contains("Using standby container", StringComparison.Ordinal));
        Assert.Equal(standby == 0, job.Log.Contains("Its main process: /sbin/init; the script runs in it by exec.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_script_under_an_init_fails_its_job_with_the_scripts_exit_code()
    {
        await using var harness = await DockerHarness.CreateAsync(await DockerHarness.UnderInitAsync());

        var (job, verdict) = await harness.RunAsync("script: [\"echo about to fail\", \"false\"]");

        Assert.Equal("failed", await job.Outcome);
        Assert.Equal(1, verdict.ExitCode);
        Assert.Contains("about to fail\n", job.Log);
    }

    [Fact]
    public async Task An_image_without_the_main_command_the_operator_set_errors_its_job_at_once_naming_the_image_and_the_setting_and_leaves_no_container()
    {
        // The base image has no /sbin/init, as many images made for containers have none.
        await using var harness = await DockerHarness.CreateAsync(o => o with { MainCommand = ["/sbin/init"], MainCommandVariable = "WORKER_DOCKER_CMD" },
            DockerHarness.DefaultWorkerOptions with { Requeues = 3 });

        var (job, verdict) = await harness.RunAsync("script: [\"echo never\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue, "the image is the same on every host: trying again elsewhere can't help");
        Assert.Contains($"image '{DockerEngine.Image}' can't run /sbin/init, its container's main process (set by WORKER_DOCKER_CMD): stat /sbin/init: no such file or directory",
            job.Log);
        Assert.Empty(await harness.ContainersAsync());
    }

    [Fact]
    public async Task An_image_without_travis_workers_default_main_command_runs_its_jobs_without_it_the_first_by_exec_the_next_as_the_main_process()
    {
        // travis-worker's form, DOCKER_CMD not set: a travis-worker env file with an image that has no init must still run jobs.
        await using var harness = await DockerHarness.CreateAsync(o => o with { MainCommand = DockerOptions.TravisMainCommand, MainCommandVariable = null });
        const string script = "script: [\"echo \\\"main process $(tr '\\\\0' ' ' < /proc/1/cmdline)\\\"\"]";

        var (first, _) = await harness.RunAsync(script);
        var (second, _) = await harness.RunAsync(script);

        Assert.True(await first.Outcome == "passed", first.Log);
        Assert.Contains($"Image {DockerEngine.Image} has no /sbin/init (travis-worker's default main process): the script runs without it.", first.Log);
        Assert.Contains("main process sleep infinity \n", first.Log); // the container it was found in, kept alive for the exec
        Assert.True(await second.Outcome == "passed", second.Log);
        Assert.DoesNotContain("Its main process:", second.Log); // the runner, with no failed start first
        Assert.DoesNotContain("has no /sbin/init", second.Log);
        Assert.DoesNotContain("main process sleep", second.Log);
        Assert.Empty(await harness.ContainersAsync());
    }

    [Fact]
    public async Task A_standby_of_an_image_without_travis_workers_default_main_command_is_kept_alive_without_it()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with
        {
            MainCommand = DockerOptions.TravisMainCommand, MainCommandVariable = null, StandbyCount = 1,
        });
        var pool = harness.Backend.Standby!;

        await pool.FillAsync(CancellationToken.None);
        var (job, _) = await harness.RunAsync("script: [\"echo from the standby\"]");

        Assert.True(await job.Outcome == "passed", job.Log);
        Assert.Contains("Using standby container", job.Log);
        Assert.Contains("from the standby\n", job.Log);
    }
}
