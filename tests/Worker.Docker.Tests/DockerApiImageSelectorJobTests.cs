using Worker.Core.Images;

namespace Worker.Docker.Tests;

/// <summary>DOCKER_IMAGE_SELECTOR_TYPE=api on the real engine: a job runs on the image a job-board on loopback names.</summary>
[Trait("Category", "Integration")]
public sealed class DockerApiImageSelectorJobTests : IDisposable
{
    private readonly FakeJobBoard _jobBoard = new();

    public void Dispose() => _jobBoard.Dispose();

    [Fact]
    public async Task A_job_naming_no_image_runs_on_the_image_job_board_names_for_its_language_as_travis()
    {
        var travisImage = await DockerEngine.TravisUserImageAsync();
        _jobBoard.Add(DockerEngine.Image, "docker", isDefault: true);
        _jobBoard.Add(travisImage, "docker", isDefault: true, "language_ruby:true");
        await using var harness = await DockerHarness.CreateAsync(o => o with
        {
            DefaultImage = "worker-no-such-default:never",
            ImageSelector = new ImageSelectorChoice(ImageSelectorChoice.Api, _jobBoard.UrlWith("worker", "jb-pass")),
        });

        var (job, _) = await harness.RunAsync("language: ruby\nscript: [\"echo on the chosen image as $(id -un)\"]");

        Assert.True(await job.Outcome == "passed", job.Log);
        Assert.Contains($"({travisImage}).", job.Log);
        Assert.Contains("on the chosen image as travis\n", job.Log); // a chosen image is travis's, as travis-worker ran it
        var request = Assert.Single(_jobBoard.Requests);
        Assert.Contains("&infra=docker&", request.Lines[0]);
        Assert.EndsWith("&tags=language_ruby%3Atrue", request.Lines[0]);
    }
}
