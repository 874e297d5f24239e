using Worker.Commands;
using Worker.Core.Configuration;

namespace Worker.Amqp.Tests;

/// <summary>
/// A worker told to shard its logs, on a broker without the rabbitmq_sharding plugin: it could
/// send no log part at all, so it stops as it does for a bad setting, with one line naming the
/// setting and the plugin.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ShardingWithoutPluginTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>, IAsyncLifetime
{
    public Task InitializeAsync() => broker.DisablePluginAsync(AmqpNames.ShardingPlugin);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_queue_refuses_to_start_with_one_line_naming_the_setting_and_the_plugin()
    {
        var error = await Assert.ThrowsAsync<InvalidSettingException>(
            () => InProcessWorker.StartAsync(broker.Uri, Broker.NewQueue("noplugin"), ("RABBITMQ_SHARDING", "true")));

        Assert.Equal("WORKER_RABBITMQ_SHARDING", error.Variable);
        Assert.Contains("rabbitmq_sharding plugin", error.Message);
        Assert.Contains("x-modulus-hash", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Worker_run_stops_with_exit_code_2_as_for_a_bad_setting()
    {
        var baseDir = Directory.CreateTempSubdirectory("sharding-noplugin-");
        var settings = new SettingsSource(new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.Uri.ToString(),
            ["WORKER_QUEUE_NAME"] = Broker.NewQueue("noplugin-run"),
            ["WORKER_PROVIDER_NAME"] = "fake",
            ["WORKER_BASE_DIR"] = baseDir.FullName,
            ["WORKER_POOL_SIZE"] = "2",
            ["WORKER_LOG_LEVEL"] = "warning",
            ["RABBITMQ_SHARDING"] = "t", // travis-worker's bare name and Go boolean
        });
        try
        {
            var run = RunCommand.RunAsync(settings);
            var error = await Assert.ThrowsAsync<InvalidSettingException>(() => run.WaitAsync(TimeSpan.FromSeconds(60)));

            Assert.Equal("RABBITMQ_SHARDING", error.Variable);
            Assert.Equal("t", error.Value);
            Assert.Equal(CommandErrors.UsageExitCode, await CommandErrors.GuardAsync(() => Task.FromException<int>(error)));
        }
        finally
        {
            baseDir.Delete(recursive: true);
        }
    }
}
