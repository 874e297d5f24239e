using Worker.TestSupport;

namespace Worker.Docker.Tests;

/// <summary>An engine older than 20.10.27 gets a note at start about its libnetwork deadlock (moby/moby#46661).</summary>
public sealed class EngineKnownFaultsTests
{
    [Theory]
    [InlineData("20.10.24+dfsg1")] // Debian bookworm's docker.io
    [InlineData("20.10.26")]
    [InlineData("19.03.15")]
    [InlineData("17.03.1-ce")]
    public void An_engine_before_20_10_27_has_the_deadlock(string version)
    {
        var fault = EngineKnownFaults.Of(version);

        Assert.NotNull(fault);
        Assert.StartsWith($"Docker {version} can deadlock its network controller", fault);
        Assert.Contains("moby/moby#46661", fault);
    }

    [Theory]
    [InlineData("20.10.27")]
    [InlineData("23.0.1")]
    [InlineData("24.0.7")]
    [InlineData("26.1.5+dfsg1")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("dev")]
    public void A_fixed_engine_or_a_version_that_does_not_parse_has_none(string? version)
    {
        Assert.Null(EngineKnownFaults.Of(version));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task The_engine_here_is_asked_its_version_and_its_fault_is_logged_if_it_has_one()
    {
        using var client = DockerEngine.Client();
        var version = (await client.System.GetVersionAsync()).Version;
        var log = new ListLoggerProvider();

        await EngineKnownFaults.WarnAsync(client, log.CreateLogger("test"));

        Assert.Equal(EngineKnownFaults.Of(version) is { } fault ? [fault] : [], log.Lines);
    }
}
