using Worker.Core.Configuration;

namespace Worker.Core.Tests;

public sealed class SettingsTests
{
    [Fact]
    public void Defaults_apply_when_nothing_is_set()
    {
        var options = WorkerOptions.Load(SettingsSource.From());
        Assert.Equal(1, options.ProcessorCount);
        Assert.Equal(TimeSpan.FromMinutes(50), options.HardLimit);
        Assert.Equal(TimeSpan.FromMinutes(10), options.LogSilence);
        Assert.Equal(4_500_000, options.MaxLog);
    }

    [Fact]
    public void Travis_prefixed_keys_are_read_too()
    {
        var options = WorkerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_POOL_SIZE", "4"), ("TRAVIS_WORKER_HARD_TIMEOUT", "1h30m")));
        Assert.Equal(4, options.ProcessorCount);
        Assert.Equal(TimeSpan.FromMinutes(90), options.HardLimit);
    }

    [Fact]
    public void Worker_prefix_wins_over_travis_prefix()
    {
        var options = WorkerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_POOL_SIZE", "4"), ("WORKER_POOL_SIZE", "6")));
        Assert.Equal(6, options.ProcessorCount);
    }

    [Fact]
    public void A_backends_bare_name_wins_over_its_travis_name_and_the_workers_own_settings_go_the_other_way_as_in_travis_worker()
    {
        var source = SettingsSource.From(("TRAVIS_WORKER_GCE_ZONE", "us-central1-a"), ("GCE_ZONE", "us-east1-c"),
            ("TRAVIS_WORKER_POOL_SIZE", "4"), ("POOL_SIZE", "6"));

        Assert.Equal(("GCE_ZONE", "us-east1-c"), source.Find("GCE_ZONE")); // provider_config.go reads PROVIDER_X after TRAVIS_WORKER_PROVIDER_X
        Assert.Equal(("TRAVIS_WORKER_POOL_SIZE", "4"), source.Find("POOL_SIZE")); // urfave/cli takes the first of its EnvVar list
        Assert.Equal(("WORKER_GCE_ZONE", "europe-west1-b"), SettingsSource.From(("GCE_ZONE", "us-east1-c"), ("WORKER_GCE_ZONE", "europe-west1-b")).Find("GCE_ZONE"));
    }

    [Fact]
    public void Bad_value_names_the_variable_the_value_and_what_is_allowed()
    {
        var e = Assert.Throws<InvalidSettingException>(() => WorkerOptions.Load(SettingsSource.From(("WORKER_POOL_SIZE", "abc"))));
        Assert.Equal("WORKER_POOL_SIZE=abc is not valid: an integer from 1 to 1000", e.Message);
    }

    [Fact]
    public void Bad_value_under_the_travis_name_is_reported_under_that_name()
    {
        var e = Assert.Throws<InvalidSettingException>(() => WorkerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_LOG_TIMEOUT", "soon"))));
        Assert.StartsWith("TRAVIS_WORKER_LOG_TIMEOUT=soon is not valid", e.Message);
    }

    [Theory]
    [InlineData("LOG_FORMAT", "xml")]
    [InlineData("POOL_SIZE", "0")]
    [InlineData("MAX_LOG_LENGTH", "lots")]
    [InlineData("HARD_TIMEOUT", "-5s")]
    [InlineData("HARD_TIMEOUT", "1e300")]
    [InlineData("LOG_TIMEOUT", "99999999999999h")]
    [InlineData("MAX_LOG_LENGTH", "1e30g")]
    [InlineData("QUEUE_NAME", "a/b")]
    [InlineData("BUILD_API_URI", "ftp://x")]
    public void Each_kind_of_bad_value_is_refused(string key, string value)
    {
        var e = Assert.Throws<InvalidSettingException>(() => WorkerOptions.Load(SettingsSource.From(("WORKER_" + key, value))));
        Assert.Equal("WORKER_" + key, e.Variable);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("250ms", 0.25)]
    [InlineData("42", 42)]
    [InlineData("3m30s", 210)]
    public void Durations_read_go_style_text(string text, double seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), Durations.Parse(text));
    }

    [Theory]
    [InlineData("4500000", 4500000L)]
    [InlineData("512m", 512L << 20)]
    [InlineData("2g", 2L << 30)]
    [InlineData("64KiB", 64L << 10)]
    public void Sizes_read_with_binary_suffixes(string text, long bytes)
    {
        Assert.True(ByteSizes.TryParse(text, out var parsed));
        Assert.Equal(bytes, parsed);
    }
}
