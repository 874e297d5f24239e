using Worker.Cirrus.Api;
using Worker.Cirrus.Config;
using Worker.Cirrus.Security;
using TartVolume = Worker.Cirrus.Api.Isolation.Types.Tart.Types.Volume;

namespace Worker.Cirrus.Tests;

public class SecurityTests
{
    private static SecurityPolicy Policy(string yaml) =>
        CirrusConfigLoader.Parse("token: t\nname: w\n" + yaml, "worker.yml", new CirrusFlags()).Security;

    private static Isolation Tart(string image, params Isolation.Types.Tart.Types.Volume[] volumes)
    {
        var tart = new Isolation.Types.Tart { Image = image };
        tart.Volumes.AddRange(volumes);
        return new Isolation { Tart = tart };
    }

    private static Isolation Container(string image, params Volume[] volumes)
    {
        var container = new Isolation.Types.Container { Image = image };
        container.Volumes.AddRange(volumes);
        return new Isolation { Container = container };
    }

    [Fact]
    public void Without_a_security_section_none_container_tart_and_vetu_are_allowed()
    {
        var open = SecurityPolicy.AllowEverything;
        Assert.Null(IsolationCheck.Refusal(null, open));
        Assert.Null(IsolationCheck.Refusal(new Isolation { None = new() }, open));
        Assert.Null(IsolationCheck.Refusal(Container("debian:bookworm"), open));
        Assert.Null(IsolationCheck.Refusal(Tart("ghcr.io/cirruslabs/macos-sonoma-base:latest"), open));
        Assert.Null(IsolationCheck.Refusal(new Isolation { Vetu = new() { Image = "ubuntu" } }, open));
    }

    [Fact]
    public void Parallels_is_refused_even_when_listed()
    {
        var refusal = IsolationCheck.Refusal(
            new Isolation { Parallels = new() { Image = "big-sur", Platform = Platform.Darwin } },
            Policy("security:\n  allowed-isolations:\n    parallels: {}\n"));
        Assert.Equal("\"parallels\" isolation is not supported by this worker; use tart for macOS VMs", refusal);
    }

    [Fact]
    public void An_isolation_of_unknown_type_is_refused()
    {
        Assert.Contains("does not know", IsolationCheck.Refusal(new Isolation(), SecurityPolicy.AllowEverything), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unlisted_isolation_is_refused_naming_the_allow_list()
    {
        var policy = Policy("security:\n  allowed-isolations:\n    none: {}\n    container: {}\n");
        Assert.Null(IsolationCheck.Refusal(null, policy));
        Assert.Equal("\"tart\" isolation is not allowed by security.allowed-isolations (allowed: none, container)",
            IsolationCheck.Refusal(Tart("ghcr.io/cirruslabs/x"), policy));

        var tartOnly = Policy("security:\n  allowed-isolations:\n    tart: {}\n");
        Assert.Equal("\"none\" isolation is not allowed by security.allowed-isolations (allowed: tart)",
            IsolationCheck.Refusal(null, tartOnly));
    }

    [Theory]
    [InlineData("ghcr.io/cirruslabs/macos-sonoma-base:latest", true)]
    [InlineData("ghcr.io/cirruslabs/", true)]
    [InlineData("example.org/ghcr.io/cirruslabs/x", false)]
    [InlineData("ghcr.io/cirruslabz/x", false)]
    public void Images_are_matched_against_whole_string_globs(string image, bool allowed)
    {
        var policy = Policy("security:\n  allowed-isolations:\n    tart:\n      allowed-images: [\"ghcr.io/cirruslabs/*\"]\n");
        var refusal = IsolationCheck.Refusal(Tart(image), policy);
        if (allowed)
        {
            Assert.Null(refusal);
        }
        else
        {
            Assert.Equal($"\"tart\" VM image \"{image}\" is not allowed by security.allowed-isolations.tart.allowed-images (ghcr.io/cirruslabs/*)", refusal);
        }
    }

    [Fact]
    public void Vetu_and_container_images_follow_their_own_allow_lists()
    {
        var policy = Policy("security:\n  allowed-isolations:\n    vetu:\n      allowed-images: [\"ghcr.io/cirruslabs/ubuntu*\"]\n    container:\n      allowed-images: [\"debian:*\"]\n");
        Assert.Null(IsolationCheck.Refusal(new Isolation { Vetu = new() { Image = "ghcr.io/cirruslabs/ubuntu:24.04" } }, policy));
        Assert.StartsWith("\"vetu\" VM image \"docker.io/ubuntu\" is not allowed by security.allowed-isolations.vetu.allowed-images",
            IsolationCheck.Refusal(new Isolation { Vetu = new() { Image = "docker.io/ubuntu" } }, policy), StringComparison.Ordinal);
        Assert.Null(IsolationCheck.Refusal(Container("debian:bookworm"), policy));
        Assert.StartsWith("container image \"alpine\" is not allowed by security.allowed-isolations.container.allowed-images",
            IsolationCheck.Refusal(Container("alpine"), policy), StringComparison.Ordinal);
    }

    [Fact]
    public void Tart_volumes_are_refused_unless_allowed_volumes_matches_even_without_a_security_section()
    {
        var volume = new Isolation.Types.Tart.Types.Volume { Name = "cache", Source = "/Users/ci/cache" };
        Assert.Equal("volume \"cache\" is not allowed: security.allowed-isolations.tart.allowed-volumes lists none",
            IsolationCheck.Refusal(Tart("img", volume), SecurityPolicy.AllowEverything));

        var policy = Policy("security:\n  allowed-isolations:\n    tart:\n      allowed-volumes:\n        - source: \"/Users/ci/cache/*\"\n        - source: \"/Volumes/ro/*\"\n          force-readonly: true\n");
        Assert.Null(IsolationCheck.Refusal(Tart("img", new TartVolume { Source = "/Users/ci/cache/pods" }), policy));
        // Cleaned before matching: ".." can't climb out of an allowed directory.
        Assert.StartsWith("volume \"/Users/ci/cache/../../../etc\" is not allowed by security.allowed-isolations.tart.allowed-volumes",
            IsolationCheck.Refusal(Tart("img", new TartVolume { Source = "/Users/ci/cache/../../../etc" }), policy), StringComparison.Ordinal);
        Assert.Equal("volume \"/Volumes/ro/x\" must be read-only: security.allowed-isolations.tart.allowed-volumes has force-readonly for /Volumes/ro/*",
            IsolationCheck.Refusal(Tart("img", new TartVolume { Source = "/Volumes/ro/x" }), policy));
        Assert.Null(IsolationCheck.Refusal(Tart("img", new TartVolume { Source = "/Volumes/ro/x", ReadOnly = true }), policy));
    }

    [Fact]
    public void Container_volumes_follow_the_same_rule_as_tart_volumes()
    {
        Assert.Equal("volume \"/var/run/docker.sock\" is not allowed: security.allowed-isolations.container.allowed-volumes lists none",
            IsolationCheck.Refusal(Container("debian", new Volume { Source = "/var/run/docker.sock", Target = "/var/run/docker.sock" }), SecurityPolicy.AllowEverything));
        var policy = Policy("security:\n  allowed-isolations:\n    container:\n      allowed-volumes:\n        - source: \"/srv/cache/*\"\n");
        Assert.Null(IsolationCheck.Refusal(Container("debian", new Volume { Source = "/srv/cache/npm", Target = "/root/.npm" }), policy));
    }

    [Fact]
    public void Softnet_is_on_when_asked_or_forced_and_the_allowed_ranges_go_with_it()
    {
        var forced = Policy("security:\n  allowed-isolations:\n    tart:\n      force-softnet: true\n      softnet-allow: [10.0.0.0/16]\n");
        var (on, allow) = IsolationCheck.TartSoftnet(new Isolation.Types.Tart(), forced);
        Assert.True(on);
        Assert.Equal(["10.0.0.0/16"], allow);

        var notForced = Policy("security:\n  allowed-isolations:\n    tart:\n      softnet-allow: [10.0.0.0/16]\n");
        var (off, none) = IsolationCheck.TartSoftnet(new Isolation.Types.Tart(), notForced);
        Assert.False(off);
        Assert.Empty(none);
        Assert.True(IsolationCheck.TartSoftnet(new Isolation.Types.Tart { Softnet = true }, notForced).Softnet);
    }

    [Theory]
    [InlineData("a*b*c", "abc", true)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "aXbYcZ", false)]
    [InlineData("*", "", true)]
    [InlineData("a?c", "abc", false)]
    [InlineData("a?c", "a?c", true)]
    [InlineData("ab*ba", "aba", false)]
    public void Wildcard_is_go_wildcards_match_simple(string pattern, string text, bool matches)
    {
        Assert.Equal(matches, Wildcard.Matches(pattern, text));
    }

    [Theory]
    [InlineData("/a/b/../c", "/a/c")]
    [InlineData("/../etc", "/etc")]
    [InlineData("a//b/./c/", "a/b/c")]
    [InlineData("../x", "../x")]
    [InlineData("", ".")]
    public void Paths_are_cleaned_as_go_does(string path, string clean)
    {
        Assert.Equal(clean, CleanPath.Of(path));
    }
}
