using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Tests;

/// <summary>A secret setting never shows in a message: not in start-up errors, not in <c>worker config</c>.</summary>
public sealed class SecretSettingTests : IDisposable
{
    private const string Password = "hunter2-secret";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_malformed_amqp_uri_stops_start_up_without_showing_its_password()
    {
        var env = new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = $"http://travis:{Password}@rabbit.example:5672/",
        };
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, "run");

        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("WORKER_AMQP_URI=[redacted] is not valid", line);
        Assert.DoesNotContain(Password, stdout + stderr);
    }

    public static TheoryData<string> SecretKeys() => [.. SettingsCatalog.All.Where(s => s.Secret).Select(s => s.Key)];

    [Theory]
    [MemberData(nameof(SecretKeys))]
    public void A_bad_value_of_any_secret_setting_is_redacted_in_its_error(string key)
    {
        // Malformed for every kind of setting: not a URI, not a number, not a readable file.
        var value = $"\u0001{Password} ::";
        var settings = SettingsSource.From(("WORKER_" + key, value));

        var error = Record.Exception(() => SettingsCatalog.Validate(settings));

        if (error is InvalidSettingException invalid)
        {
            Assert.DoesNotContain(Password, invalid.Message);
            Assert.DoesNotContain(Password, invalid.Value);
            Assert.StartsWith($"WORKER_{key}=[redacted] ", invalid.Message);
        }
        else
        {
            // Free text: any value is valid, so there is no error to leak it.
            Assert.Null(error);
        }
    }

    [Fact]
    public void A_password_in_a_bad_uri_of_a_setting_that_is_not_secret_is_hidden()
    {
        var error = Assert.Throws<InvalidSettingException>(() => SettingsCatalog.Validate(
            SettingsSource.From(("WORKER_GCE_API_ENDPOINT", $"ftp://emulator:{Password}@gce.example/compute/"))));

        Assert.Equal("WORKER_GCE_API_ENDPOINT=ftp://emulator:[redacted]@gce.example/compute/ is not valid: an absolute URI with scheme http or https", error.Message);
    }

    [Fact]
    public async Task Worker_config_hides_the_password_of_a_uri_setting_that_is_not_secret()
    {
        var env = new Dictionary<string, string> { ["WORKER_GCE_API_ENDPOINT"] = $"https://emulator:{Password}@gce.example/compute/" };
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, "config");

        Assert.Equal(0, exit);
        Assert.Contains("WORKER_GCE_API_ENDPOINT=https://emulator:[redacted]@gce.example/compute/\n", stdout);
        Assert.DoesNotContain(Password, stdout + stderr);
    }
}
