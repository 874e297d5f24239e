using Docker.DotNet.Models;
using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Docker.Tests;

/// <summary>Whole jobs through the pipeline on the real engine: output, exit codes, env, secrets, cancel, timeout, machine failure.</summary>
[Trait("Category", "Integration")]
public sealed class DockerJobTests
{
    [Fact]
    public async Task A_job_streams_its_output_into_the_log_and_passes()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var (job, verdict) = await harness.RunAsync("script: [\"echo hello from a container\", \"echo to stderr >&2\", \"cat /etc/debian_version\"]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Equal(0, verdict.ExitCode);
        Assert.Contains("hello from a container\n", job.Log);
        Assert.Contains("to stderr\n", job.Log);
        Assert.Contains("via docker", job.Log);
    }

    [Fact]
    public async Task A_job_naming_no_image_runs_on_the_hosts_image_tagged_for_its_language_as_travis_worker_ran_it()
    {
        // A language of this test's own: the tags are the engine's, seen by every test running beside it.
        var language = $"worker-test-{Guid.NewGuid():N}"[..24];
        using var client = DockerEngine.Client();
        var travisImage = await DockerEngine.TravisUserImageAsync();
        await client.Images.TagImageAsync(travisImage, new ImageTagParameters { RepositoryName = "travis", Tag = language });
        try
        {
            await using var harness = await DockerHarness.CreateAsync(o => o with { DefaultImage = "worker-no-such-default:never" });
            var (tagged, _) = await harness.RunAsync($"language: {language}\nscript: [\"echo on the tagged image as $(id -un) in $HOME, USER=$USER LOGNAME=$LOGNAME\"]");
            var (named, _) = await harness.RunAsync($"language: {language}\nimage: {travisImage}\nscript: [\"echo named, as $(id -un)\"]");

            Assert.Equal("passed", await tagged.Outcome);
            Assert.Contains($"(travis:{language}).", tagged.Log);
            Assert.Contains("on the tagged image as travis in /home/travis, USER=travis LOGNAME=travis\n", tagged.Log); // as travis-worker ran its images
            Assert.Contains($"({travisImage}).", named.Log); // a job's own image comes first, as the image's user
            Assert.Contains("named, as root\n", named.Log);
        }
        finally
        {
            await client.Images.DeleteImageAsync($"travis:{language}", new ImageDeleteParameters());
        }
    }

    [Theory]
    [InlineData(null, 0, "USER=root LOGNAME=root")] // the image's own user
    [InlineData("65534", 0, "USER=nobody LOGNAME=nobody")] // given by id, named in the image's /etc/passwd
    [InlineData("4321:4321", 0, "USER= LOGNAME=")] // named nowhere: none, as before
    [InlineData(null, 1, "USER=root LOGNAME=root")] // by exec, in a standby
    public async Task A_jobs_script_gets_USER_and_LOGNAME_of_its_user_as_a_login_set_them_when_the_image_names_it(string? user, int standby, string expected)
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { ContainerUser = user, StandbyCount = standby });
        if (harness.Backend.Standby is { } pool)
        {
            await pool.FillAsync(CancellationToken.None);
        }

        var (job, _) = await harness.RunAsync("script: [\"echo USER=$USER LOGNAME=$LOGNAME\"]");

        Assert.True(await job.Outcome == "passed", job.Log);
        Assert.Contains(expected + "\n", job.Log);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)] // by exec, in a standby
    public async Task Travis_workers_proxy_settings_reach_every_jobs_script_in_both_cases_with_a_proxys_password_masked_in_the_log(int standby)
    {
        var settings = SettingsSource.From(
            ("TRAVIS_WORKER_DOCKER_HTTP_PROXY", "http://proxy.internal:3128"), ("DOCKER_HTTPS_PROXY", "http://user:secret@proxy.internal:3129"),
            ("TRAVIS_WORKER_DOCKER_NO_PROXY", "localhost,.internal"));
        var proxies = DockerOptions.Load(settings).ProxyEnvironment;
        await using var harness = await DockerHarness.CreateAsync(o => o with { ProxyEnvironment = proxies, StandbyCount = standby });
        if (harness.Backend.Standby is { } pool)
        {
            await pool.FillAsync(CancellationToken.None);
        }

        var (job, _) = await harness.RunAsync(
            "script: [\"echo \\\"$HTTP_PROXY|$http_proxy|$HTTPS_PROXY|$https_proxy|$NO_PROXY|$no_proxy|${FTP_PROXY-unset}\\\"\"]");

        Assert.True(await job.Outcome == "passed", job.Log);
        // The proxy's password is in the container, not in the log.
        Assert.Contains("http://proxy.internal:3128|http://proxy.internal:3128|http://user:[secure]@proxy.internal:3129|http://user:[secure]@proxy.internal:3129" +
            "|localhost,.internal|localhost,.internal|unset\n", job.Log);
    }

    [Fact]
    public async Task A_large_script_arrives_whole_on_the_containers_stdin_and_the_script_itself_reads_end_of_file_there()
    {
        await using var harness = await DockerHarness.CreateAsync();
        // Well over a pipe's 64 KiB, with multi-byte text: the length sent ahead counts bytes, not characters.
        var lines = string.Concat(Enumerable.Range(0, 2000).Select(i => $"  - echo \"line {i} h\u00e9llo \u2713\"\n"));
        var (job, _) = await harness.RunAsync("script:\n" + lines +
            "  - test -f /.worker-job/build.sh && echo \"saved in its place\"\n" +
            "  - cat && echo \"stdin is at its end\"\n");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("line 0 h\u00e9llo \u2713\n", job.Log);
        Assert.Contains("line 1999 h\u00e9llo \u2713\n", job.Log);
        Assert.Contains("saved in its place\n", job.Log);
        Assert.Contains("stdin is at its end\n", job.Log);
        Assert.DoesNotContain(ScriptArchive.ReceivedMarker, job.Log);
    }

    [Fact]
    public async Task A_job_on_an_image_whose_user_is_not_root_runs_as_that_user_in_the_images_working_directory()
    {
        var image = await DockerEngine.NonRootImageAsync();
        await using var harness = await DockerHarness.CreateAsync();
        var (job, _) = await harness.RunAsync($"image: {image}\nscript: [\"id -un\", \"pwd\", \"echo made > here && cat here\", \"test -r /.worker-job/build.sh && echo script in its place\"]");

        Assert.True(await job.Outcome == "passed", job.Log);
        Assert.Contains("\nbuilder\n", job.Log);
        Assert.Contains("\n/home/builder\n", job.Log);
        Assert.Contains("\nmade\n", job.Log);
        Assert.Contains("script in its place\n", job.Log);
    }

    [Fact]
    public async Task A_job_on_an_image_without_bash_errors_at_once_saying_so_and_leaves_no_container()
    {
        var image = await DockerEngine.NoBashImageAsync();
        await using var harness = await DockerHarness.CreateAsync(worker: DockerHarness.DefaultWorkerOptions with { Requeues = 3 });
        var (job, verdict) = await harness.RunAsync($"image: {image}\nscript: [\"echo never\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.False(verdict.Requeue, "the image is the same on every host: trying again elsewhere can't help");
        Assert.Contains($"image '{image}' has no bash, which runs the job's script", job.Log);
        Assert.Empty(await harness.ContainersAsync());
    }

    [Fact]
    public async Task Exit_1_fails_the_job_and_exit_3_errors_it_with_code_3()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var (failing, failed) = await harness.RunAsync("script: [\"echo about to fail\", \"false\"]");
        var (erroring, errored) = await harness.RunAsync("script: [\"exit 3\"]");

        Assert.Equal("failed", await failing.Outcome);
        Assert.Equal(1, failed.ExitCode);
        Assert.Equal("errored", await erroring.Outcome);
        Assert.Equal(3, errored.ExitCode);
    }

    [Fact]
    public async Task Env_and_secrets_reach_the_script_and_secrets_never_reach_the_log()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var (job, _) = await harness.RunAsync("""
            env: { GREETING: bonjour }
            secrets: { API_TOKEN: s3cr3t-9f8e7d }
            script:
              - echo "greeting=$GREETING"
              - echo "token=$API_TOKEN"
              - test "$API_TOKEN" = s3cr3t-9f8e7d
            """);

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("greeting=bonjour", job.Log);
        Assert.Contains("token=[secure]", job.Log);
        Assert.DoesNotContain("s3cr3t-9f8e7d", job.Log);
    }

    /// <param name="underInit">Under an init that ignores SIGTERM (WORKER_DOCKER_CMD), with the script run by exec: the kill is SIGKILL all the same.</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Cancelling_a_running_job_kills_its_container_at_once_and_removes_it(bool underInit)
    {
        await using var harness = await DockerHarness.CreateAsync(underInit ? await DockerHarness.UnderInitAsync() : null);
        var job = harness.Enqueue("script: [\"echo ready\", \"sleep 3600\", \"echo slept-the-hour\"]");
        var run = harness.RunNextAsync();
        await DockerHarness.WaitForLogAsync(job, "ready\n");
        Assert.Single(await harness.ContainersAsync());

        Assert.True(harness.Cancellations.Cancel(job.Payload.JobId, "cancelled by a test"));
        var (_, verdict) = await Eventually.CompletesAsync(run, "the cancel ended the hour-long sleep");

        Assert.Equal("cancelled", await job.Outcome);
        Assert.Equal(130, verdict.ExitCode);
        Assert.DoesNotContain("slept-the-hour", job.Log);
        Assert.Empty(await harness.ContainersAsync());
    }

    /// <param name="underInit">Under an init that ignores SIGTERM (WORKER_DOCKER_CMD), with the script run by exec.</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_job_past_its_hard_timeout_is_ended_by_it_and_errored(bool underInit)
    {
        await using var harness = await DockerHarness.CreateAsync(underInit ? await DockerHarness.UnderInitAsync() : null);
        var (job, verdict) = await Eventually.CompletesAsync(harness.RunAsync("script: [\"sleep 3600 & sleep 3600\"]\ntimeout: 3s"),
            "the hard timeout ended the hour-long sleep");

        Assert.Equal("errored", await job.Outcome);
        Assert.Equal(124, verdict.ExitCode);
        Assert.Contains("maximum time limit", job.Log);
    }

    [Fact]
    public async Task A_container_killed_from_outside_is_an_infrastructure_failure_and_the_job_is_requeued()
    {
        await using var harness = await DockerHarness.CreateAsync(worker: new Worker.Core.Configuration.WorkerOptions
        {
            FlushInterval = TimeSpan.FromMilliseconds(50),
            Requeues = 3,
        });
        var job = harness.Enqueue("script: [\"echo ready\", \"sleep 300\"]");
        var run = harness.RunNextAsync();
        await DockerHarness.WaitForLogAsync(job, "ready\n");
        var container = Assert.Single(await harness.ContainersAsync());
        using (var client = DockerEngine.Client())
        {
            await client.Containers.KillContainerAsync(container.ID, new ContainerKillParameters { Signal = "SIGKILL" });
        }
        await run;

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("the machine stopped", job.RequeueReason);
        Assert.Empty(await harness.ContainersAsync());
    }

    [Fact]
    public async Task A_script_killed_by_a_signal_in_a_running_container_is_the_scripts_result_not_a_machine_failure()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var (job, verdict) = await harness.RunAsync("script: [\"kill -9 $$\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Equal(137, verdict.ExitCode);
    }

    [Fact]
    public async Task Each_job_gets_a_new_container_labelled_with_its_job_and_limited_and_unprivileged_with_no_docker_socket()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var (job, container) = await harness.InspectWhileRunningAsync("id: 4242\nbefore_script: [\"test ! -e /var/run/docker.sock && echo no-socket\"]");
        var second = harness.Enqueue("id: 4243\nscript: [\"true\"]");
        await harness.RunNextAsync();

        Assert.Contains("no-socket", job.Log);
        Assert.Equal("4242", container.Config!.Labels[MachineLabels.JobId]);
        Assert.Equal(harness.Fleet, container.Config!.Labels[MachineLabels.Fleet]);
        Assert.Equal("test-host", container.Config!.Labels[MachineLabels.Host]);
        Assert.True(long.Parse(container.Config!.Labels[MachineLabels.CreatedAt], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(1_000_000_000, container.HostConfig!.NanoCPUs);
        Assert.Equal(512L << 20, container.HostConfig!.Memory);
        Assert.False(container.HostConfig!.Privileged);
        Assert.Empty(container.HostConfig!.Binds ?? []);
        Assert.Equal("passed", await second.Outcome);
        Assert.DoesNotContain(container.ID[..12], second.Events.First(e => e.StartsWith("started:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_start_cut_off_by_the_startup_timeout_after_the_container_was_created_leaves_nothing_behind()
    {
        // Where the cut lands depends on the engine's speed, so the timeout grows until one lands
        // after the create; every attempt must leave nothing behind.
        var cutAfterCreate = false;
        foreach (var ms in new[] { 1, 5, 10, 20, 40, 80, 150, 250, 400, 600, 900 })
        {
            var since = DateTimeOffset.UtcNow;
            // A set size of its own: each attempt's fresh backend would otherwise ask the engine's /info
            // before its first create, and under load that call's wandering time let the ladder step over the create.
            await using var harness = await DockerHarness.CreateAsync(o => o with { CpusToPinWithin = 2 }, worker: new Worker.Core.Configuration.WorkerOptions
            {
                Startup = TimeSpan.FromMilliseconds(ms),
                FlushInterval = TimeSpan.FromMilliseconds(50),
                Requeues = 0,
            });
            var (_, verdict) = await harness.RunAsync("script: [\"true\"]");
            // A create given up mid-flight used to land in the engine after its removal: give it time to.
            await Task.Delay(TimeSpan.FromMilliseconds(500));

            Assert.Empty(await harness.ContainersAsync());
            var created = (await DockerEngine.CreateEventsAsync(harness.Fleet, since)).Count;
            if (created > 0 && verdict.Message?.Contains("starting the machine took longer than", StringComparison.Ordinal) == true)
            {
                cutAfterCreate = true;
                break;
            }
        }
        Assert.True(cutAfterCreate, "no startup timeout landed between the create and the end of the start");
    }

    [Fact]
    public async Task An_operators_bind_with_the_engines_options_mounts_with_them()
    {
        var source = Directory.CreateTempSubdirectory("worker-bind-").FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "note"), "from the host");
        try
        {
            // z relabels for SELinux, a no-op on an engine without it; rprivate is the engine's own default propagation.
            await using var harness = await DockerHarness.CreateAsync(o => o with { OperatorVolumes = [$"{source}:/srv/bound:ro,z,rprivate"] });
            var (job, container) = await harness.InspectWhileRunningAsync("before_script: [\"cat /srv/bound/note\", \"touch /srv/bound/x || echo read-only\"]");

            Assert.Contains($"{source}:/srv/bound:ro,z,rprivate", container.HostConfig!.Binds);
            Assert.Contains("from the host", job.Log);
            Assert.Contains("read-only\n", job.Log);
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [Fact]
    public async Task A_container_whose_start_fails_is_removed_at_once()
    {
        var since = DateTimeOffset.UtcNow;
        // A file bound over a directory: the engine creates the container, then can't start it.
        await using var harness = await DockerHarness.CreateAsync(o => o with { OperatorVolumes = ["/etc/hostname:/tmp"] });
        var (job, verdict) = await harness.RunAsync("script: [\"true\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("not a directory", verdict.Message);
        Assert.Single(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
        Assert.Empty(await harness.ContainersAsync());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_process_the_script_leaves_in_the_background_does_not_keep_the_job_running(int standby)
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { StandbyCount = standby });
        if (harness.Backend.Standby is { } pool)
        {
            await pool.FillAsync(CancellationToken.None);
        }
        // Without its own end, the job would run into the 20 s limit and be errored as timed out.
        var (job, verdict) = await harness.RunAsync("script: [\"sleep 300 &\", \"echo left one behind\"]\ntimeout: 20s");

        Assert.Equal("passed", await job.Outcome);
        Assert.Equal(0, verdict.ExitCode);
        Assert.Contains("left one behind", job.Log);
        Assert.Equal(standby == 1, job.Log.Contains("standby", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tmpfs_over_tmp_does_not_hide_the_uploaded_script()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { TmpfsMounts = ["/tmp:rw;size=16m"] });
        var (job, _) = await harness.RunAsync("script: [\"grep -q ' /tmp tmpfs ' /proc/mounts && echo tmp-is-tmpfs\"]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("tmp-is-tmpfs", job.Log);
    }

    [Fact]
    public async Task The_operators_security_options_labels_and_tmpfs_mounts_reach_every_container()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with
        {
            SecurityOptions = ["no-new-privileges"],
            ExtraLabels = new Dictionary<string, string> { ["team"] = "ci" },
            TmpfsMounts = ["/run:rw;size=8m"],
        });
        var (job, container) = await harness.InspectWhileRunningAsync("before_script: [\"grep NoNewPrivs /proc/self/status\"]");

        Assert.Contains("no-new-privileges", container.HostConfig!.SecurityOpt);
        Assert.Equal("ci", container.Config!.Labels["team"]);
        Assert.Equal(harness.Fleet, container.Config!.Labels[MachineLabels.Fleet]);
        Assert.Equal("rw,size=8m", container.HostConfig!.Tmpfs!["/run"]);
        Assert.Matches(@"NoNewPrivs:\s+1", job.Log);
    }
}
