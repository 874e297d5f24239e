using Docker.DotNet.Models;
using Worker.Core.Backends;

namespace Worker.Docker.Tests;

/// <summary>What a job asks of its container against the operator's policy, on the real engine: refusals create nothing.</summary>
[Trait("Category", "Integration")]
public sealed class DockerPolicyJobTests : IDisposable
{
    private readonly string _allowedDir = Path.Combine(Path.GetTempPath(), "worker-dtest-vol-" + Guid.NewGuid().ToString("N")[..8]);

    public DockerPolicyJobTests()
    {
        Directory.CreateDirectory(_allowedDir);
        File.WriteAllText(Path.Combine(_allowedDir, "hello.txt"), "hello from the host\n");
    }

    public void Dispose() => Directory.Delete(_allowedDir, recursive: true);

    private static DockerOptions Strict(DockerOptions o) => o with
    {
        ImageGlobs = ["worker-job-*"],
        VolumeRules = [Path.Combine(Path.GetTempPath(), "worker-dtest-vol-*") + ":ro", "/var/run/*"],
    };

    [Theory]
    [InlineData("image: evil.example/worker-job-base:bookworm", "image 'evil.example/worker-job-base:bookworm' is not allowed by WORKER_ALLOWED_IMAGES")]
    [InlineData("privileged: true", "privileged container and WORKER_DOCKER_PRIVILEGED is false")]
    [InlineData("cpus: 4", "asks for 4 CPUs, more than WORKER_DOCKER_MAX_CPUS allows (1)")]
    [InlineData("memory: 2g", "asks for 2g of memory, more than WORKER_DOCKER_MAX_MEMORY allows (512m)")]
    [InlineData("volumes: [\"/etc:/host-etc\"]", "volume '/etc' is not allowed by WORKER_ALLOWED_VOLUMES")]
    [InlineData("volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]", "is a container engine socket")]
    [InlineData("volumes: [\"/var/run:/host-run\"]", "is a container engine socket")]
    [InlineData("volumes: [\"/srv/cache:/.worker-job\"]", "outside /.worker-job")]
    public async Task A_job_asking_for_what_the_policy_refuses_is_errored_naming_the_rule_and_nothing_is_created(string request, string rule)
    {
        var since = DateTimeOffset.UtcNow;
        await using var harness = await DockerHarness.CreateAsync(Strict);
        var (job, verdict) = await harness.RunAsync(request + "\nscript: [\"echo should not run\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("refused by this worker's policy", job.Log);
        Assert.Contains(rule, job.Log);
        Assert.Equal(125, verdict.ExitCode);
        Assert.DoesNotContain("should not run\n", job.Log);
        Assert.Empty(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
    }

    [Fact]
    public async Task A_volume_that_walks_out_of_an_allowed_directory_with_dot_dot_is_refused()
    {
        var since = DateTimeOffset.UtcNow;
        await using var harness = await DockerHarness.CreateAsync(Strict);
        var (job, _) = await harness.RunAsync($"volumes: [\"{_allowedDir}/../../etc:/x\"]\nscript: [\"true\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("no '..'", job.Log);
        Assert.Empty(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
    }

    [Fact]
    public async Task A_link_to_the_engine_socket_in_an_allowed_directory_is_refused_and_nothing_is_created()
    {
        var link = Path.Combine(_allowedDir, "engine.link");
        File.CreateSymbolicLink(link, DockerEngine.Endpoint.AbsolutePath);
        var since = DateTimeOffset.UtcNow;
        await using var harness = await DockerHarness.CreateAsync(Strict);
        var (job, _) = await harness.RunAsync($"volumes: [\"{link}:/engine.sock\"]\nscript: [\"test -S /engine.sock && echo THE-ENGINE-IS-INSIDE\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("is a container engine socket", job.Log);
        Assert.DoesNotContain("THE-ENGINE-IS-INSIDE", job.Log);
        Assert.Empty(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
    }

    [Fact]
    public async Task An_allowed_volume_is_mounted_and_forced_read_only_when_its_rule_says_so()
    {
        await using var harness = await DockerHarness.CreateAsync(Strict);
        var (job, _) = await harness.RunAsync($"""
            volumes: ["{_allowedDir}:/data"]
            script:
              - cat /data/hello.txt
              - if touch /data/new 2>/dev/null; then echo WRITABLE; else echo read-only-as-forced; fi
            """);

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("hello from the host", job.Log);
        Assert.Contains("read-only-as-forced", job.Log);
        Assert.False(File.Exists(Path.Combine(_allowedDir, "new")));
    }

    [Fact]
    public async Task An_allowed_image_other_than_the_default_runs_and_the_same_image_under_another_registry_does_not()
    {
        var alias = "worker-job-alias-" + Guid.NewGuid().ToString("N")[..8];
        using var client = DockerEngine.Client();
        var (repository, tag) = (alias, "test");
        await client.Images.TagImageAsync(DockerEngine.Image, new ImageTagParameters { RepositoryName = repository, Tag = tag });
        try
        {
            await using var harness = await DockerHarness.CreateAsync(Strict);
            var (allowed, _) = await harness.RunAsync($"image: {alias}:test\nscript: [\"echo on the alias\"]");
            var (refused, _) = await harness.RunAsync($"image: registry.example/{alias}:test\nscript: [\"true\"]");

            Assert.Equal("passed", await allowed.Outcome);
            Assert.Contains("on the alias", allowed.Log);
            Assert.Equal("errored", await refused.Outcome);
            Assert.Contains("WORKER_ALLOWED_IMAGES", refused.Log);
        }
        finally
        {
            await client.Images.DeleteImageAsync($"{alias}:test", new ImageDeleteParameters());
        }
    }

    [Theory]
    [InlineData(PrivilegedContainers.OnRequest, "privileged: true\n")]
    [InlineData(PrivilegedContainers.Always, "")]
    public async Task A_job_gets_a_privileged_container_when_it_asks_and_the_operator_allows_it_or_the_operator_makes_every_one_privileged(
        PrivilegedContainers privileges, string asks)
    {
        // The container as the engine holds it just before its start: the same whether the engine
        // then grants the privilege or, in an unprivileged sandbox such as these test machines, refuses it.
        using var client = DockerEngine.Client();
        ContainerInspectResponse? created = null;
        await using var harness = await DockerHarness.CreateAsync(o => o with { Privileges = privileges },
            beforeStart: async id => created = await client.Containers.InspectContainerAsync(id));
        var privileged = harness.Enqueue(asks + "script: [\"echo ready\", \"sleep 300\"]");
        var run = harness.RunNextAsync();
        await Eventually.TrueAsync(() => privileged.Log.Contains("ready\n", StringComparison.Ordinal) || privileged.Outcome.IsCompleted,
            "the privileged job printed ready or ended", explain: () => privileged.Log);
        if (privileged.Outcome.IsCompleted)
        {
            // An ordinary container starts fine here: the engine refused the privilege it was asked for.
            Assert.Contains("unable to apply caps", privileged.Log);
        }
        else
        {
            harness.Cancellations.Cancel(privileged.Payload.JobId, "seen");
        }
        await run;

        Assert.NotNull(created);
        Assert.True(created.HostConfig!.Privileged);
        Assert.Equal(privileged.Payload.JobId.ToString(System.Globalization.CultureInfo.InvariantCulture), created.Config!.Labels[MachineLabels.JobId]);
    }

    [Fact]
    public async Task A_job_may_ask_for_fewer_cpus_and_less_memory_than_the_ceiling_and_gets_them()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { CpuCeiling = 2, MemoryCeiling = 1L << 30 });
        var (_, container) = await harness.InspectWhileRunningAsync("cpus: 0.5\nmemory: 256m");

        Assert.Equal(500_000_000, container.HostConfig!.NanoCPUs);
        Assert.Equal(256L << 20, container.HostConfig!.Memory);
        Assert.Equal(256L << 20, container.HostConfig!.MemorySwap);
    }

    [Fact]
    public async Task An_image_missing_from_the_host_is_refused_when_pulling_is_off()
    {
        var since = DateTimeOffset.UtcNow;
        await using var harness = await DockerHarness.CreateAsync();
        var (job, _) = await harness.RunAsync("image: worker-job-not-built-here:never\nscript: [\"true\"]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("image 'worker-job-not-built-here:never' is not on this host and WORKER_DOCKER_PULL is never", job.Log);
        Assert.Empty(await DockerEngine.CreateEventsAsync(harness.Fleet, since));
    }
}
