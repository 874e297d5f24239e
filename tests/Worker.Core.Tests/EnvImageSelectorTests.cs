using Worker.Core.Configuration;
using Worker.Core.Images;

namespace Worker.Core.Tests;

/// <summary>travis-worker's env image selector, as both backends read their mappings.</summary>
public sealed class EnvImageSelectorTests
{
    [Fact]
    public async Task A_backends_mappings_come_from_its_own_prefix_in_every_naming_and_default_is_the_backends_own()
    {
        var settings = SettingsSource.From(("TRAVIS_WORKER_DOCKER_IMAGE_RUBY", "travisci/ci-ruby:packer-1"), ("DOCKER_IMAGE_GO", "default"),
            ("WORKER_DOCKER_IMAGE_PYTHON", "ruby"), ("GCE_IMAGE_RUBY", "travis-ci-ruby.+"));
        var selector = new EnvImageSelector(EnvImageSelector.MappingsFrom(settings, "DOCKER_IMAGE_"));

        Assert.Equal("travisci/ci-ruby:packer-1", await selector.SelectAsync(new ImageQuery("docker", 1) { Language = "ruby" }, CancellationToken.None));
        Assert.Equal("travisci/ci-ruby:packer-1", await selector.SelectAsync(new ImageQuery("docker", 2) { Language = "python" }, CancellationToken.None)); // an alias
        Assert.Null(await selector.SelectAsync(new ImageQuery("docker", 3) { Language = "go" }, CancellationToken.None)); // mapped to travis-worker's "default"
        Assert.Null(await selector.SelectAsync(new ImageQuery("docker", 4) { Language = "rust" }, CancellationToken.None));
    }
}
