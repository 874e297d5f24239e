using Worker.Core.Configuration;
using Worker.Core.Backends;
using Worker.Core.Jobs;

namespace Worker.Docker.Tests;

public sealed class DockerPolicyTests
{
    private static readonly DockerOptions Operator = new()
    {
        DefaultImage = "worker-job-base:bookworm",
        CpusPerJob = 2,
        MemoryPerJob = 4L << 30,
        ImageGlobs = ["ghcr.io/acme/*", "debian:*"],
        VolumeRules = ["/srv/cache/*", "/srv/data/*:ro", "/var/run/docker.sock"],
    };

    private static StartAttributes Job(string? image = null, double? cpus = null, long? memory = null, bool privileged = false, params string[] volumes) =>
        new() { JobId = 1, Image = image, Cpus = cpus, Memory = memory, Privileged = privileged, Volumes = volumes };

    private static string Refusal(DockerOptions options, StartAttributes job) =>
        Assert.Throws<JobRefusedException>(() => new DockerPolicy(options).Decide(job)).Rule;

    [Fact]
    public void A_job_that_asks_for_nothing_gets_the_default_image_and_limits()
    {
        var spec = new DockerPolicy(Operator).Decide(Job());

        Assert.Equal(new DockerPolicy(Operator).Default.Image, spec.Image);
        Assert.Equal(2, spec.Cpus);
        Assert.Equal(4L << 30, spec.Memory);
        Assert.Empty(spec.Volumes);
        Assert.False(spec.Privileged);
        Assert.True(spec.IsStandbyShaped(new DockerPolicy(Operator).Default));
    }

    [Fact]
    public void The_default_image_is_allowed_even_when_no_glob_names_it()
    {
        Assert.Equal("worker-job-base:bookworm", new DockerPolicy(Operator).Decide(Job("worker-job-base:bookworm")).Image);
    }

    [Fact]
    public void Images_are_checked_against_the_globs_over_the_whole_reference()
    {
        var policy = new DockerPolicy(Operator);

        Assert.Equal("ghcr.io/acme/tools/app:1", policy.Decide(Job("ghcr.io/acme/tools/app:1")).Image);
        Assert.Contains("image 'evil.io/ghcr.io/acme/app' is not allowed by WORKER_ALLOWED_IMAGES (ghcr.io/acme/*, debian:*)",
            Refusal(Operator, Job("evil.io/ghcr.io/acme/app")));
    }

    [Fact]
    public void With_no_image_globs_any_image_is_allowed()
    {
        Assert.Equal("anything:1", new DockerPolicy(Operator with { ImageGlobs = [] }).Decide(Job("anything:1")).Image);
    }

    [Fact]
    public void With_no_volume_rules_a_job_mounts_nothing()
    {
        Assert.Contains("WORKER_ALLOWED_VOLUMES is empty", Refusal(Operator with { VolumeRules = [] }, Job(volumes: "/srv/cache/x:/cache")));
    }

    [Fact]
    public void An_allowed_volume_keeps_its_mode_unless_its_rule_forces_read_only()
    {
        var spec = new DockerPolicy(Operator).Decide(Job(volumes: ["/srv/cache/npm:/root/.npm", "/srv/data/set:/data:rw"]));

        Assert.Equal("/srv/cache/npm:/root/.npm:rw", spec.Volumes[0].ToBind());
        Assert.Equal("/srv/data/set:/data:ro", spec.Volumes[1].ToBind());
        Assert.False(spec.IsStandbyShaped(new DockerPolicy(Operator).Default));
    }

    [Theory]
    [InlineData("/srv/cache/../../etc:/x", "no '..'")]
    [InlineData("/srv/cache/x:relative", "absolute destination")]
    [InlineData("/srv/cache/x:/x:shared", "SOURCE:DESTINATION[:ro|rw]")]
    [InlineData("/srv/cache/x", "SOURCE:DESTINATION[:ro|rw]")]
    [InlineData("/etc:/x", "volume '/etc' is not allowed by WORKER_ALLOWED_VOLUMES")]
    [InlineData("/srv/cache:/x", "volume '/srv/cache' is not allowed")]
    public void A_volume_outside_the_rules_or_malformed_is_refused(string volume, string rule)
    {
        Assert.Contains(rule, Refusal(Operator, Job(volumes: volume)));
    }

    [Fact]
    public void Doubled_slashes_are_collapsed_before_matching()
    {
        Assert.Equal("/srv/cache/x", new DockerPolicy(Operator).Decide(Job(volumes: "//srv//cache/x/:/x")).Volumes[0].Source);
    }

    [Fact]
    public void The_docker_socket_needs_a_rule_that_names_it_exactly_not_a_wildcard()
    {
        var wildcard = Operator with { VolumeRules = ["/var/run/*", "/run/*", "*"] };

        Assert.Contains("container engine socket", Refusal(wildcard, Job(volumes: "/var/run/docker.sock:/var/run/docker.sock")));
        Assert.Contains("container engine socket", Refusal(wildcard, Job(volumes: "/run:/host-run")));
        Assert.Contains("container engine socket", Refusal(wildcard, Job(volumes: "/:/host")));
        Assert.Single(new DockerPolicy(Operator).Decide(Job(volumes: "/var/run/docker.sock:/var/run/docker.sock")).Volumes);
    }

    [Fact]
    public void A_privileged_container_needs_the_operators_consent()
    {
        Assert.Contains("WORKER_DOCKER_PRIVILEGED is false", Refusal(Operator, Job(privileged: true)));
        var onRequest = new DockerPolicy(Operator with { Privileges = PrivilegedContainers.OnRequest });
        Assert.True(onRequest.Decide(Job(privileged: true)).Privileged);
        Assert.False(onRequest.Decide(Job()).Privileged);
        Assert.False(onRequest.Default.Privileged);
    }

    [Fact]
    public void The_tag_selector_looks_for_the_language_then_default_as_travis_tags_as_travis_worker_found_them()
    {
        // Not ruby:latest: travis-worker never matched the official images, which don't have its user.
        Assert.Equal(["travis:ruby", "travis:default"], LanguageImages.Candidates("Ruby"));
        Assert.Equal(["travis:default"], LanguageImages.Candidates("default"));
        Assert.Equal(["travis:default"], LanguageImages.Candidates("c++"));
    }

    [Fact]
    public void The_hosts_image_tagged_for_the_language_is_the_operators_choice_and_a_jobs_own_image_comes_first()
    {
        var listed = Operator with { ImageGlobs = ["registry.example/*"] };

        Assert.Equal("travis:ruby", new DockerPolicy(listed).Decide(Job(), selectedImage: "travis:ruby").Image);
        Assert.Equal(DockerPolicy.TravisUser, new DockerPolicy(listed).Decide(Job(), selectedImage: "travis:ruby").User);
        Assert.Null(new DockerPolicy(Operator).Decide(Job(image: "debian:12")).User);
        var chosenUser = new DockerPolicy(Operator with { ContainerUser = "1000:1000" });
        Assert.Equal("1000:1000", chosenUser.Decide(Job(), selectedImage: "travis:ruby").User);
        Assert.Equal("1000:1000", chosenUser.Default.User);
        Assert.Contains("not allowed by WORKER_ALLOWED_IMAGES", Refusal(listed, Job(image: "travis:ruby")));
    }

    [Fact]
    public void With_travis_workers_privileged_setting_every_container_is_privileged_and_so_are_the_standbys_that_serve_them()
    {
        var everyOne = new DockerPolicy(Operator with { Privileges = PrivilegedContainers.Always });

        var spec = everyOne.Decide(Job());

        Assert.True(spec.Privileged);
        Assert.True(everyOne.Default.Privileged);
        Assert.True(spec.IsStandbyShaped(everyOne.Default));
        Assert.False(new DockerPolicy(Operator).Decide(Job()).IsStandbyShaped(everyOne.Default));
    }

    [Theory]
    [InlineData("true", PrivilegedContainers.Always)]
    [InlineData("t", PrivilegedContainers.Always)]
    [InlineData("ask", PrivilegedContainers.OnRequest)]
    [InlineData("false", PrivilegedContainers.Never)]
    public void The_privileged_setting_reads_travis_workers_booleans_and_ask(string text, PrivilegedContainers mode) =>
        Assert.Equal(mode, DockerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_DOCKER_PRIVILEGED", text))).Privileges);

    [Fact]
    public void Cpus_and_memory_above_the_ceiling_are_refused_and_below_it_granted()
    {
        var ceilings = Operator with { CpuCeiling = 4, MemoryCeiling = 8L << 30 };

        Assert.Contains("asks for 4.5 CPUs, more than WORKER_DOCKER_MAX_CPUS allows (4)", Refusal(ceilings, Job(cpus: 4.5)));
        Assert.Contains("asks for 9g of memory, more than WORKER_DOCKER_MAX_MEMORY allows (8g)", Refusal(ceilings, Job(memory: 9L << 30)));
        Assert.Equal(4, new DockerPolicy(ceilings).Decide(Job(cpus: 4)).Cpus);
        Assert.Equal(8L << 30, new DockerPolicy(ceilings).Decide(Job(memory: 8L << 30)).Memory);
    }

    [Fact]
    public void Without_a_ceiling_the_per_job_default_is_the_ceiling_and_an_unlimited_default_has_none()
    {
        Assert.Contains("more than WORKER_DOCKER_MAX_CPUS allows (2)", Refusal(Operator, Job(cpus: 3)));
        Assert.Equal(64, new DockerPolicy(Operator with { CpusPerJob = 0, MemoryPerJob = 0 }).Decide(Job(cpus: 64, memory: 1L << 40)).Cpus);
    }

    [Fact]
    public void Memory_below_what_docker_accepts_is_refused_up_front()
    {
        Assert.Contains("Docker needs at least 6m", Refusal(Operator, Job(memory: 1L << 20)));
    }
}
