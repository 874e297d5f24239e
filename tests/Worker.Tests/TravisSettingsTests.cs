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
        Assert.Contains("WORKER_POOL_SIZ is not a setting this worker knows; it is ignored (did you mean WORKER_POOL_SIZE?)", warnings);
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
            // A TRAVIS_WORKER_ variable brings travis-worker's defaults (docker, amqp): these commands run on the embedded ones.
            ["WORKER_PROVIDER_NAME"] = "local",
            ["WORKER_QUEUE_TYPE"] = "file",
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
    public void Travis_workers_docker_cmd_is_read_and_its_exec_cmd_is_named_with_where_the_script_is_instead()
    {
        var settings = SettingsSource.From(("DOCKER_CMD", "/sbin/init"), ("TRAVIS_WORKER_DOCKER_EXEC_CMD", "bash /home/travis/build.sh"));

        var warning = Assert.Single(SettingsCatalog.UnusedVariableWarnings(settings));
        Assert.StartsWith("TRAVIS_WORKER_DOCKER_EXEC_CMD is ignored: the script goes to /.worker-job/build.sh, not /home/travis/build.sh", warning, StringComparison.Ordinal);
        Assert.Equal("/sbin/init", Worker.Docker.DockerOptions.Command.Effective(settings));
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

    /// <summary>worker-gcp-standalone's worker.env, as its Terraform writes it for each host, plus its image pattern.</summary>
    private static readonly (string, string)[] StandaloneEnv =
    [
        ("POOL_SIZE", "30"), ("STARTUP_TIMEOUT", "8m"), ("SCRIPT_UPLOAD_TIMEOUT", "7m"),
        ("GCE_UPLOAD_RETRIES", "300"), ("GCE_SKIP_STOP_POLL", "true"), ("GCE_DISK_SIZE", "15"),
        ("TRAVIS_WORKER_QUEUE_NAME", "builds.trusty"), ("TRAVIS_WORKER_PROVIDER_NAME", "gce"),
        ("TRAVIS_WORKER_GCE_IMAGE_DEFAULT", "travis-ci-garnet-trusty.%2B"),
    ];

    [Fact]
    public void Travis_workers_bare_names_are_read_as_it_reads_them()
    {
        var settings = SettingsSource.From(StandaloneEnv);

        var options = WorkerOptions.Load(settings);
        var gce = Worker.Gce.GceOptions.Load(settings);

        Assert.Equal(30, options.ProcessorCount);
        Assert.Equal(TimeSpan.FromMinutes(8), options.Startup);
        Assert.Equal(TimeSpan.FromMinutes(7), options.Upload);
        Assert.Equal("builds.trusty", options.JobQueueName);
        Assert.Equal(300, gce.UploadAttempts);
        Assert.True(gce.NoStopPoll);
        Assert.Equal(15, gce.DiskSizeGb);
        Assert.Equal(("GCE_DISK_SIZE", "15"), settings.Find("GCE_DISK_SIZE"));
        Assert.Equal("gce", Backends.Configured(settings).Name);
    }

    [Fact]
    public void A_prefixed_name_wins_over_the_bare_one_and_other_programs_bare_names_are_neither_read_nor_named()
    {
        var settings = SettingsSource.From(("POOL_SIZE", "30"), ("TRAVIS_WORKER_POOL_SIZE", "4"), ("LOG_LEVEL", "trace"),
            ("BUILD_NUMBER", "77"), ("DOCKER_BUILDKIT", "1"), ("DOCKER_API_VERSION", "1.41"),
            ("SENTRY_DSN", "https://key@sentry.example/1"));

        Assert.Equal(4, WorkerOptions.Load(settings).ProcessorCount);
        Assert.Equal(WorkerOptions.LogLevel.Default, WorkerOptions.LogLevel.Read(settings));
        var warning = Assert.Single(SettingsCatalog.UnusedVariableWarnings(settings));
        Assert.StartsWith("SENTRY_DSN is ignored: no Sentry", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void The_gce_image_mappings_of_travis_workers_env_selector_are_read_not_warned_about()
    {
        var settings = SettingsSource.From(("TRAVIS_WORKER_GCE_IMAGE_XENIAL_RUBY", "travis-ci-ruby.%2B"), ("GCE_IMAGE_TRUSTY", "travis-ci-garnet-trusty.%2B"));

        Assert.Empty(SettingsCatalog.UnusedVariableWarnings(settings));
        Assert.Equal(new Dictionary<string, string> { ["xenial_ruby"] = "travis-ci-ruby.+", ["trusty"] = "travis-ci-garnet-trusty.+" },
            Worker.Gce.GceOptions.Load(settings).ImageMappings);
    }

    [Fact]
    public void Travis_workers_image_selectors_and_the_docker_mappings_are_read_not_warned_about()
    {
        var settings = SettingsSource.From(("TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TYPE", "env"), ("TRAVIS_WORKER_DOCKER_IMAGE_RUBY", "travisci%2Fci-ruby%3Apacker-1"),
            ("GCE_IMAGE_SELECTOR_TYPE", "api"), ("GCE_IMAGE_SELECTOR_URL", "https://worker:pass@job-board.example/images/search"));

        Assert.Empty(SettingsCatalog.UnusedVariableWarnings(settings));
        var docker = Worker.Docker.DockerOptions.Load(settings);
        Assert.Equal("env", docker.ImageSelector.Type);
        Assert.Equal("travisci/ci-ruby:packer-1", docker.ImageMappings["ruby"]);
        Assert.Equal(new Uri("https://worker:pass@job-board.example/images/search"), Worker.Gce.GceOptions.Load(settings).ImageSelector.Url);
    }

    [Theory]
    [InlineData("GCE_IMAGE_SELECTOR_TYPE", "GCE_IMAGE_SELECTOR_URL")]
    [InlineData("TRAVIS_WORKER_GCE_IMAGE_SELECTOR_TYPE", "TRAVIS_WORKER_GCE_IMAGE_SELECTOR_URL")]
    [InlineData("WORKER_DOCKER_IMAGE_SELECTOR_TYPE", "WORKER_DOCKER_IMAGE_SELECTOR_URL")]
    [InlineData("TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TYPE", "TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_URL")]
    public void The_api_image_selector_without_a_url_stops_start_up_naming_the_url_as_the_type_was_named(string typeVariable, string urlVariable)
    {
        var settings = SettingsSource.From((typeVariable, "api"));
        Action load = typeVariable.Contains("GCE", StringComparison.Ordinal) ? () => Worker.Gce.GceOptions.Load(settings) : () => Worker.Docker.DockerOptions.Load(settings);

        var error = Assert.Throws<InvalidSettingException>(load);

        Assert.Equal($"{urlVariable}= is not valid: an absolute URI with scheme http or https, required with {typeVariable}=api", error.Message);
    }

    [Theory]
    [InlineData("TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TYPE", "api", "worker: TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_URL= is not valid: an absolute URI with scheme http or https, required with TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TYPE=api")]
    [InlineData("TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TYPE", "job-board", "worker: TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TYPE=job-board is not valid: one of tag, env, api")]
    public async Task A_travis_worker_env_file_with_an_image_selector_that_cant_work_stops_worker_run_with_one_line(string variable, string value, string line)
    {
        using var dir = new TempDirectory();
        // travis-worker's form: the docker backend and the amqp queue; the backend is made before the broker is asked.
        var env = new Dictionary<string, string> { [variable] = value, ["TRAVIS_WORKER_AMQP_URI"] = "amqp://127.0.0.1:1/" };

        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(env, dir.Path, "run");

        Assert.Equal(2, exit);
        Assert.Equal(line, stderr.Trim());
    }

    [Theory]
    [InlineData("travis-ci-garnet-trusty.%2B", "travis-ci-garnet-trusty.+")]
    [InlineData("a+b", "a b")]
    [InlineData("100%", "100%")] // not a valid escape: travis-worker kept it as written
    [InlineData("caf%C3%A9", "caf\u00e9")]
    public void A_backends_value_in_travis_workers_naming_is_url_unescaped_as_it_was_there(string written, string meant)
    {
        meant = System.Text.RegularExpressions.Regex.Unescape(meant);

        Assert.Equal(meant, SettingsSource.From(("TRAVIS_WORKER_GCE_IMAGE_DEFAULT", written)).Find("GCE_IMAGE_DEFAULT")?.Value);
        Assert.Equal(meant, SettingsSource.From(("GCE_IMAGE_DEFAULT", written)).Find("GCE_IMAGE_DEFAULT")?.Value);
        Assert.Equal(written, SettingsSource.From(("WORKER_GCE_IMAGE_DEFAULT", written)).Find("GCE_IMAGE_DEFAULT")?.Value);
        Assert.Equal(written, SettingsSource.From(("TRAVIS_WORKER_GCE_ACCOUNT_JSON", written)).Find("GCE_ACCOUNT_JSON")?.Value);
        Assert.Equal(written, SettingsSource.From(("TRAVIS_WORKER_QUEUE_NAME", written)).Find("QUEUE_NAME")?.Value);
    }

    [Fact]
    public void Settings_in_travis_workers_form_get_its_defaults_docker_and_amqp_and_ours_keep_the_embedded_ones()
    {
        var travis = SettingsSource.From(("TRAVIS_WORKER_AMQP_URI", "amqp://broker.example"), ("TRAVIS_WORKER_QUEUE_NAME", "builds.linux"));
        var bare = SettingsSource.From(("POOL_SIZE", "2"));
        var ours = SettingsSource.From(("WORKER_POOL_SIZE", "2"), ("HOSTNAME", "host-1"), ("DEBUG", "1"));
        var broker = SettingsSource.From(("WORKER_AMQP_URI", "amqp://broker.example"));

        Assert.Equal(("docker", "amqp"), (Backends.Configured(travis).Name, Sources(travis)));
        Assert.Equal(("docker", "amqp"), (Backends.Configured(bare).Name, Sources(bare)));
        Assert.Equal(("local", "file"), (Backends.Configured(ours).Name, Sources(ours)));
        Assert.Equal(("local", "amqp"), (Backends.Configured(broker).Name, Sources(broker)));
        Assert.Equal("local", Backends.Configured(SettingsSource.From(("TRAVIS_WORKER_PROVIDER_NAME", "local"))).Name);
    }

    [Theory]
    [InlineData("amqp,file", "amqp,file")]
    [InlineData(" File , AMQP ", "file,amqp")]
    [InlineData("file", "file")]
    public void A_comma_list_of_queue_types_takes_jobs_from_each_as_travis_worker_does(string written, string sources) =>
        Assert.Equal(sources, Sources(SettingsSource.From(("TRAVIS_WORKER_QUEUE_TYPE", written))));

    [Theory]
    [InlineData("amqp,amqp")]
    [InlineData("amqp,sqs")]
    [InlineData(",")]
    public void A_queue_type_list_with_an_unknown_or_repeated_source_stops_start_up_naming_it(string written)
    {
        var refused = Assert.Throws<InvalidSettingException>(() => JobSources.Configured(SettingsSource.From(("TRAVIS_WORKER_QUEUE_TYPE", written))));
        Assert.Contains("TRAVIS_WORKER_QUEUE_TYPE", refused.Message, StringComparison.Ordinal);
    }

    private static string Sources(SettingsSource settings) => string.Join(",", JobSources.Configured(settings).Select(s => s.Name));

    [Theory]
    [InlineData("t", true)]
    [InlineData("T", true)]
    [InlineData("F", false)]
    [InlineData("f", false)]
    public void Go_booleans_as_travis_worker_took_them(string text, bool value) =>
        Assert.Equal(value, Worker.Gce.GceOptions.SkipStopPoll.Read(SettingsSource.From(("TRAVIS_WORKER_GCE_SKIP_STOP_POLL", text))));

    [Theory]
    [InlineData("1500us", 1.5)]
    [InlineData("1500\u00b5s", 1.5)]
    [InlineData("2000000ns", 2)]
    [InlineData(".5s", 500)]
    [InlineData("1m0.5s", 60_500)]
    public void Go_durations_as_travis_worker_took_them(string text, double milliseconds)
    {
        Assert.True(Durations.TryParse(System.Text.RegularExpressions.Regex.Unescape(text), out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }
}
