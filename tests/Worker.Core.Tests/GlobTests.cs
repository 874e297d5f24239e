using Worker.Core.Security;

namespace Worker.Core.Tests;

public sealed class GlobTests
{
    [Theory]
    [InlineData("ghcr.io/acme/*", "ghcr.io/acme/app:1", true)]
    [InlineData("ghcr.io/acme/*", "ghcr.io/acme/team/app:1", true)]
    [InlineData("ghcr.io/acme/*", "example.org/ghcr.io/acme/app", false)]
    [InlineData("ghcr.io/acme/*", "ghcr.io/acme", false)]
    [InlineData("*", "anything/at:all", true)]
    [InlineData("debian:*", "debian:bookworm", true)]
    [InlineData("debian:*", "debian", false)]
    [InlineData("*/app:*", "ghcr.io/acme/app:1", true)]
    [InlineData("worker-job-?:1", "worker-job-a:1", true)]
    [InlineData("worker-job-?:1", "worker-job-ab:1", false)]
    [InlineData("a*b*c", "aXXbYYbZZc", true)]
    [InlineData("a*b*c", "aXXbYYcZZ", false)]
    [InlineData("exact:tag", "exact:tag", true)]
    [InlineData("exact:tag", "exact:tags", false)]
    public void A_glob_matches_the_whole_string_and_star_crosses_slashes(string pattern, string text, bool matches) =>
        Assert.Equal(matches, new Glob(pattern).IsMatch(text));
}
