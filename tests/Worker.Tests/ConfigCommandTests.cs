
namespace Worker.Tests;

public sealed class ConfigCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Bad_pool_size_exits_2_with_one_line_naming_the_variable()
    {
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(new Dictionary<string, string> { ["WORKER_POOL_SIZE"] = "abc" }, _dir.Path, "config");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("WORKER_POOL_SIZE=abc", line);
        Assert.Contains("integer", line);
    }

    [Theory]
    [InlineData("gce", "WORKER_GCE_SPOT", "true", "WORKER_GCE_PREEMPTIBLE", "true")]
    [InlineData("tart", "WORKER_TART_SOFTNET_ALLOW", "10.0.0.0/8", "WORKER_TART_SOFTNET", "false")]
    public async Task A_rule_across_the_configured_backends_settings_stops_config_as_it_stops_run(string provider, string variable, string value,
        string other, string otherValue)
    {
        var env = new Dictionary<string, string> { ["WORKER_PROVIDER_NAME"] = provider, [variable] = value, [other] = otherValue };

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, "config");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains($"{variable}={value}", line);
    }

    [Fact]
    public async Task Config_prints_effective_values_and_redacts_secrets()
    {
        var env = new Dictionary<string, string>
        {
            ["TRAVIS_WORKER_POOL_SIZE"] = "7",
            ["WORKER_BUILD_API_URI"] = "https://user:pass@build.example/script",
        };
        var (exit, stdout, _, _) = await WorkerProcess.RunAsync(env, _dir.Path, "config");

        Assert.Equal(0, exit);
        Assert.Contains("WORKER_POOL_SIZE=7\n", stdout);
        Assert.Contains("WORKER_BUILD_API_URI=[redacted]\n", stdout);
        Assert.DoesNotContain("pass@", stdout);
    }

    [Fact]
    public async Task Config_example_env_is_exactly_what_the_worker_documents()
    {
        var (exit, stdout, _, _) = await WorkerProcess.RunAsync(new Dictionary<string, string>(), _dir.Path, "config", "--example");
        Assert.Equal(0, exit);
        var committed = await File.ReadAllTextAsync(Path.Combine(ExecCommandTests.RepoRoot(), "config.example.env"));
        Assert.True(committed == stdout, "config.example.env is stale: regenerate it with `worker config --example > config.example.env`");
    }
}
