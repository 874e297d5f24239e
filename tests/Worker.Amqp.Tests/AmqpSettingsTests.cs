using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Amqp.Tests;

public sealed class AmqpSettingsTests
{
    [Theory]
    [InlineData("WORKER_AMQP_QUEUE_TYPE", "fifo")]
    [InlineData("WORKER_AMQP_URI", "http://localhost:5672/")]
    [InlineData("WORKER_LOGS_AMQP_URI", "not a uri")]
    [InlineData("WORKER_AMQP_HEARTBEAT", "soon")]
    [InlineData("WORKER_AMQP_CONSUMER_PRIORITY", "high")]
    [InlineData("WORKER_REQUEUE_STRATEGY", "nack")]
    [InlineData("WORKER_AMQP_TLS_CA_PATH", "/nonexistent/ca.pem")]
    [InlineData("TRAVIS_WORKER_AMQP_QUEUE_TYPE", "stream")]
    [InlineData("WORKER_RABBITMQ_SHARDING", "sharded")]
    [InlineData("RABBITMQ_SHARDING", "yes please")]
    [InlineData("TRAVIS_WORKER_AMQP_TLS_CERT", "/etc/ssl/ca.pem")]
    [InlineData("AMQP_TLS_CERT", "-----BEGIN CERTIFICATE-----\\nnot base64\\n-----END CERTIFICATE-----")]
    [InlineData("TRAVIS_WORKER_AMQP_INSECURE", "maybe")]
    [InlineData("LOGS_AMQP_TLS_CERT_PATH", "/nonexistent/ca.pem")]
    public void Bad_amqp_setting_stops_start_up_with_one_line_naming_the_variable(string variable, string value)
    {
        var settings = new SettingsSource(new Dictionary<string, string> { ["WORKER_QUEUE_TYPE"] = "amqp", [variable] = value });

        var error = Assert.Throws<InvalidSettingException>(() => WorkerContext.Create(settings));

        Assert.Equal(variable, error.Variable);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Travis_workers_inline_cas_and_amqp_insecure_are_read_the_one_line_form_of_a_pem_too()
    {
        var ca = TestCertificates.Create("inline-ca").CaPem;
        var logsCa = TestCertificates.Create("logs-ca").CaPem;
        var settings = SettingsSource.From(("TRAVIS_WORKER_AMQP_TLS_CERT", ca.ReplaceLineEndings("\\n")), ("AMQP_INSECURE", "true"),
            ("LOGS_AMQP_TLS_CERT", logsCa));

        var options = AmqpOptions.Load(settings);

        Assert.Equal(ca.ReplaceLineEndings("\n"), options.CaPem);
        Assert.True(options.InsecureTls);
        Assert.Equal(logsCa, options.LogsCaPem);
        Assert.Null(options.LogsCaPath);
        Assert.Empty(SettingsCatalog.UnusedVariableWarnings(settings)); // read, no longer "ignored"
    }

    [Fact]
    public void Travis_worker_keys_are_read_and_defaults_match_travis()
    {
        var options = AmqpOptions.Load(new SettingsSource(new Dictionary<string, string>
        {
            ["TRAVIS_WORKER_AMQP_URI"] = "amqps://user:pass@rabbit.example:5671/ci",
            ["TRAVIS_WORKER_AMQP_CONSUMER_PRIORITY"] = "7",
        }));

        Assert.Equal("rabbit.example", options.Uri.Host);
        Assert.Equal(7, options.Priority);
        Assert.Equal(TimeSpan.FromSeconds(10), options.HeartbeatInterval);
        Assert.Equal("classic", options.QueueType);
        Assert.Equal("republish", options.Requeue);
        Assert.Null(options.LogsUri);
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("WORKER_RABBITMQ_SHARDING", "true", true)]
    [InlineData("TRAVIS_WORKER_RABBITMQ_SHARDING", "1", true)]
    [InlineData("RABBITMQ_SHARDING", "t", true)]
    [InlineData("RABBITMQ_SHARDING", "F", false)]
    public void Rabbitmq_sharding_is_off_by_default_and_read_by_travis_workers_names_and_go_booleans(string? variable, string? value, bool sharded)
    {
        var settings = variable is null ? SettingsSource.From() : SettingsSource.From((variable, value!));

        var options = AmqpOptions.Load(settings);

        Assert.Equal(sharded, options.ShardedLogs);
        if (variable is not null)
        {
            Assert.Equal((variable, value), options.ShardedLogsSetBy);
        }
        Assert.Empty(SettingsCatalog.UnusedVariableWarnings(settings)); // a setting now, not "not supported"
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("INFRA", "gce")]
    [InlineData("TRAVIS_WORKER_INFRA", "ec2")]
    [InlineData("WORKER_INFRA", "macstadium")]
    public void Infra_is_read_by_travis_workers_names_and_empty_by_default(string? variable, string infra)
    {
        var settings = variable is null ? SettingsSource.From() : SettingsSource.From((variable, infra));

        Assert.Equal(infra, AmqpOptions.Load(settings).Infra);
        Assert.Empty(SettingsCatalog.UnusedVariableWarnings(settings)); // a setting now, not "not needed"
    }
}
