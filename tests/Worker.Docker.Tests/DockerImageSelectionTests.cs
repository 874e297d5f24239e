using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Core.Jobs;

namespace Worker.Docker.Tests;

/// <summary>
/// DOCKER_IMAGE_SELECTOR_TYPE: which selector chooses the image of a job that names none, what it is
/// asked, and how the operator's policy treats its choice. No engine is asked: nothing is created.
/// </summary>
public sealed class DockerImageSelectionTests : IDisposable
{
    private readonly FakeJobBoard _jobBoard = new();

    public void Dispose() => _jobBoard.Dispose();

    private static readonly DockerOptions Operator = new()
    {
        EndpointUri = new Uri("unix:///nonexistent/docker.sock"),
        DefaultImage = "worker-job-base:bookworm",
        ImageGlobs = ["ghcr.io/acme/*"],
    };

    private static StartAttributes RubyJob => new()
    {
        JobId = 5150, Language = "ruby", Dist = "jammy", Group = "edge", Os = "linux", RepositorySlug = "acme/app",
    };

    private static async Task<ContainerSpec> SpecAsync(DockerOptions options, StartAttributes job)
    {
        await using var backend = new DockerBackend(DockerRegistration.CreateClient(options.EndpointUri), options,
            new MachineLabels("fleet", "host", TimeSpan.FromMinutes(5)), NullLogger<DockerBackend>.Instance, ownsClient: true);
        return await backend.ContainerSpecForAsync(job, CancellationToken.None);
    }

    [Fact]
    public async Task The_api_selector_asks_job_board_by_the_language_alone_as_travis_workers_docker_backend_did()
    {
        _jobBoard.Add("travisci/ci-ruby:packer-1700000000", "docker", isDefault: true, "language_ruby:true");

        var spec = await SpecAsync(Operator with { ImageSelector = new("api", _jobBoard.Url) }, RubyJob);

        Assert.Equal("travisci/ci-ruby:packer-1700000000", spec.Image); // not in WORKER_ALLOWED_IMAGES: the operator's choice
        Assert.Equal(DockerPolicy.TravisUser, spec.User); // as travis-worker ran its images
        Assert.Equal(
        [
            "fields%5Bimages%5D=name&gpu_vm_type=&infra=docker&is_default=false&job_id=5150&limit=1&repo=acme%2Fapp&tags=language_ruby%3Atrue",
            "fields%5Bimages%5D=name&gpu_vm_type=&infra=docker&is_default=true&job_id=5150&limit=1&repo=acme%2Fapp&tags=language_ruby%3Atrue",
            "fields%5Bimages%5D=name&gpu_vm_type=&infra=docker&is_default=true&job_id=5150&limit=1&repo=acme%2Fapp",
        ], Assert.Single(_jobBoard.Requests).Lines);
    }

    [Fact]
    public async Task No_image_from_job_board_is_the_default_image_as_its_own_user_and_a_jobs_own_image_asks_nobody_and_meets_the_allow_list()
    {
        var options = Operator with { ImageSelector = new("api", _jobBoard.Url) };

        var unmatched = await SpecAsync(options, RubyJob);
        var refused = await Assert.ThrowsAsync<JobRefusedException>(() => SpecAsync(options, RubyJob with { Image = "travisci/ci-ruby:packer-1" }));

        Assert.Equal(("worker-job-base:bookworm", null), (unmatched.Image, unmatched.User));
        Assert.True(unmatched.IsStandbyShaped(new DockerPolicy(options).Default));
        Assert.Contains("not allowed by WORKER_ALLOWED_IMAGES", refused.Rule);
        Assert.Single(_jobBoard.Requests);
    }

    [Fact]
    public async Task The_env_selector_maps_the_language_with_docker_image_keys_and_a_mapping_to_the_default_image_stays_the_default()
    {
        var settings = SettingsSource.From(("DOCKER_IMAGE_SELECTOR_TYPE", "env"), ("TRAVIS_WORKER_DOCKER_IMAGE_RUBY", "travisci/ci-ruby:packer-1"),
            ("DOCKER_IMAGE_JAMMY", "travisci/ci-jammy:packer-1"), ("DOCKER_IMAGE_GO", "worker-job-base:bookworm"));
        var options = DockerOptions.Load(settings) with { EndpointUri = Operator.EndpointUri };

        var ruby = await SpecAsync(options, RubyJob);
        var go = await SpecAsync(options, RubyJob with { Language = "go" });

        Assert.Equal(("travisci/ci-ruby:packer-1", DockerPolicy.TravisUser), (ruby.Image, ruby.User)); // the language, not the dist, as travis-worker asked
        Assert.Equal(("worker-job-base:bookworm", null), (go.Image, go.User));
    }

    [Fact]
    public async Task A_job_board_that_stays_down_fails_the_start_naming_its_url_before_anything_is_created()
    {
        _jobBoard.Down = true;
        var backoff = new ImageSelectorBackoff { FirstWait = TimeSpan.FromMilliseconds(20), MaxWait = TimeSpan.FromMilliseconds(100), GiveUpAfter = TimeSpan.FromSeconds(1) };
        var options = Operator with { ImageSelector = new("api", _jobBoard.Url) { Backoff = backoff } };

        var e = await Assert.ThrowsAsync<ImageSelectorUnavailableException>(() => SpecAsync(options, RubyJob));

        Assert.StartsWith($"the image selector at {_jobBoard.Url} answered 500", e.Message);
    }

    [Fact]
    public void The_tag_selector_stays_the_default_and_an_unknown_type_stops_start_up_naming_it()
    {
        Assert.Equal(new ImageSelectorChoice("tag"), DockerOptions.Load(SettingsSource.From()).ImageSelector);
        var e = Assert.Throws<InvalidSettingException>(() => DockerOptions.Load(SettingsSource.From(("DOCKER_IMAGE_SELECTOR_TYPE", "job-board"))));
        Assert.Equal("DOCKER_IMAGE_SELECTOR_TYPE=job-board is not valid: one of tag, env, api", e.Message);
    }
}
