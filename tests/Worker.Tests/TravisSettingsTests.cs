using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Tests;

/// <summary>A travis-worker deployment's environment: what is read, and what is named as having no use here.</summary>
public sealed class TravisSettingsTests
{
    [Fact]
    public void A_travis_worker_setting_with_no_use_here_is_named_with_the_reason_and_a_typo_is_named_too()
    {
        var settings = SettingsSource.From(
            ("TRAVIS_WORKER_DOCKER_NATIVE", "true"), ("TRAVIS_WORKER_SENTRY_DSN", "https://key@sentry.example/1"),
            ("WORKER_POOL_SIZ", "4"), ("TRAVIS_WORKER_POOL_SIZE", "4"), ("TRAVIS_WORKER_DOCKER_SHM", "64MiB"));

        var warnings = SettingsCatalog.UnusedVariableWarnings(settings).ToList();

        Assert.Equal(3, warnings.Count);
        Assert.Contains("TRAVIS_WORKER_DOCKER_NATIVE is ignored: the script always goes in and runs through the Docker API", warnings);
        Assert.Contains(warnings, w => w.StartsWith("TRAVIS_WORKER_SENTRY_DSN is ignored: no Sentry", StringComparison.Ordinal));
        Assert.Contains("WORKER_POOL_SIZ is not a setting this worker knows; it is ignored", warnings);
    }

    [Theory]
    [InlineData("exec")]
    [InlineData("submit")]
    [InlineData("config")]
    [InlineData("cleanup")]
    public async Task Every_command_names_a_WORKER_variable_it_does_not_read(string command)
    {
        using var dir = new TempDirectory();
        var job = dir.Write("job.yml", "script: [\"true\"]");
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(dir.Path, "state"),
            ["WORKER_POOL_SIZ"] = "4",
            ["TRAVIS_WORKER_SENTRY_DSN"] = "https://key@sentry.example/1",
        };
        string[] args = command switch
        {
            "exec" or "submit" => [command, job],
            // local has no inventory, so cleanup stops right after reading its settings.
            "cleanup" => [command, "--once", "--dry-run"],
            _ => [command],
        };

        var (_, _, stderr, _) = await WorkerProcess.RunAsync(env, dir.Path, args);

        Assert.Contains("WORKER_POOL_SIZ is not a setting this worker knows; it is ignored", stderr);
        Assert.Contains("TRAVIS_WORKER_SENTRY_DSN is ignored: no Sentry", stderr);
    }

    [Fact]
    public void No_key_this_worker_reads_is_listed_as_having_no_use()
    {
        foreach (var setting in SettingsCatalog.All)
        {
            Assert.True(TravisOnlySettings.Reason(setting.Key) is null, $"{setting.Key} is read, yet listed as a travis-worker key with no use");
        }
    }

    [Fact]
    public void Travis_workers_amqp_tls_cert_path_names_the_brokers_CA()
    {
        var ca = Path.GetTempFileName();
        try
        {
            var options = Worker.Amqp.AmqpOptions.Load(SettingsSource.From(("TRAVIS_WORKER_AMQP_TLS_CERT_PATH", ca)));

            Assert.Equal(ca, options.CaPath);
        }
        finally
        {
            File.Delete(ca);
        }
    }
}
