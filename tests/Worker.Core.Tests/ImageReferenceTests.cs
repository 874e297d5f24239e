using Worker.Core.Images;

namespace Worker.Core.Tests;

public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("debian:bookworm", "debian", "bookworm")]
    [InlineData("debian", "debian", "latest")]
    [InlineData("ghcr.io/acme/app:1.2", "ghcr.io/acme/app", "1.2")]
    [InlineData("localhost:5000/app", "localhost:5000/app", "latest")]
    [InlineData("localhost:5000/app:dev", "localhost:5000/app", "dev")]
    [InlineData("app@sha256:0123abcd", "app@sha256:0123abcd", "")]
    public void An_image_to_pull_is_split_into_repository_and_tag(string image, string repository, string tag) =>
        Assert.Equal((repository, tag), ImageReference.Split(image));
}
