using Worker.Core.Configuration;
using Worker.Ssh.BareMetal;

namespace Worker.Ssh.Tests.BareMetal;

/// <summary><c>WORKER_SSH_*</c>: what the SSH backend needs, and the one line that stops start-up when something is missing or unusable.</summary>
public sealed class SshOptionsTests : IDisposable
{
    private const string HostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";

    private readonly string _dir = Directory.CreateTempSubdirectory("worker-ssh-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("mac1", null, "mac1", 22)]
    [InlineData("ci@mac1:2222", "ci", "mac1", 2222)]
    [InlineData("10.0.0.5:22", null, "10.0.0.5", 22)]
    [InlineData("[::1]:2200", null, "::1", 2200)]
    [InlineData("fe80::1", null, "fe80::1", 22)]
    [InlineData("build@[2001:db8::7]", "build", "2001:db8::7", 22)]
    public void A_host_entry_is_user_at_host_colon_port(string text, string? user, string host, int port)
    {
        Assert.True(SshHostAddress.TryParse(text, out var address));
        Assert.Equal(new SshHostAddress(user, host, port), address);
    }

    [Theory]
    [InlineData("mac1:0")]
    [InlineData("mac1:65536")]
    [InlineData("mac1:ssh")]
    [InlineData("@mac1")]
    [InlineData("[::1")]
    [InlineData("[::1]22")]
    [InlineData("ci@")]
    public void A_bad_host_entry_stops_start_up_naming_the_variable(string entry)
    {
        var e = Assert.Throws<InvalidSettingException>(() => SshOptions.Load(Settings(("SSH_HOSTS", "ok-host," + entry))));

        Assert.Equal("WORKER_SSH_HOSTS", e.Variable);
        Assert.Contains("[user@]host[:port]", e.Message);
    }

    [Fact]
    public void Settings_that_are_complete_give_each_host_its_user_key_and_known_hosts()
    {
        var options = SshOptions.Load(Settings(("SSH_HOSTS", "mac1, ci@mac2:2222"), ("SSH_BUILD_ROOT", "~/builds/"), ("SSH_HOST_RETRY", "30s")));

        Assert.Equal([new SshEndpoint("mac1", 22, "runner"), new SshEndpoint("mac2", 2222, "ci")], options.Endpoints);
        Assert.IsType<KnownHosts>(options.HostKeys);
        Assert.False(options.AcceptsAnyHostKey);
        Assert.Equal("builds", options.Root);
        Assert.Equal(TimeSpan.FromSeconds(30), options.SetAsideFor);
        Assert.Equal("key", options.Credential.Kind);
    }

    [Theory]
    [InlineData("SSH_HOSTS", "WORKER_SSH_HOSTS", "at least one host")]
    [InlineData("SSH_USER", "WORKER_SSH_USER", "a login user for the hosts that name none (mac1)")]
    [InlineData("SSH_KNOWN_HOSTS", "WORKER_SSH_KNOWN_HOSTS", "a known_hosts file listing every host's key")]
    [InlineData("SSH_KEY_PATH", "WORKER_SSH_KEY_PATH", "a private key file the worker logs in with, or set WORKER_SSH_PASSWORD")]
    public void A_missing_setting_stops_start_up_naming_it(string key, string variable, string allowed)
    {
        var e = Assert.Throws<InvalidSettingException>(() => SshOptions.Load(Settings((key, ""))));

        Assert.Equal(variable, e.Variable);
        Assert.Contains(allowed, e.Message);
    }

    [Fact]
    public void A_known_hosts_file_that_lists_no_key_for_a_host_stops_start_up_naming_the_host()
    {
        var e = Assert.Throws<InvalidSettingException>(() => SshOptions.Load(Settings(("SSH_HOSTS", "mac1,mac9:2222"))));

        Assert.Equal("WORKER_SSH_KNOWN_HOSTS", e.Variable);
        Assert.Contains("none for [mac9]:2222", e.Message);
    }

    [Fact]
    public void A_known_hosts_file_that_cant_be_read_stops_start_up_naming_the_line()
    {
        var broken = Write("broken_known_hosts", "mac1 ssh-ed25519 not-base64!\n");

        var e = Assert.Throws<InvalidSettingException>(() => SshOptions.Load(Settings(("SSH_KNOWN_HOSTS", broken))));

        Assert.Equal("WORKER_SSH_KNOWN_HOSTS", e.Variable);
        Assert.Contains("line 1", e.Message);
    }

    [Fact]
    public void Accepting_any_host_key_needs_no_known_hosts()
    {
        var options = SshOptions.Load(Settings(("SSH_KNOWN_HOSTS", ""), ("SSH_INSECURE_ACCEPT_ANY_HOST_KEY", "true")));

        Assert.True(options.AcceptsAnyHostKey);
    }

    [Fact]
    public void A_key_and_a_password_both_set_stop_start_up_without_showing_the_password()
    {
        var e = Assert.Throws<InvalidSettingException>(() => SshOptions.Load(Settings(("SSH_PASSWORD", "hunter2-pw"))));

        Assert.Equal("WORKER_SSH_PASSWORD", e.Variable);
        Assert.DoesNotContain("hunter2-pw", e.Message);
    }

    [Fact]
    public void A_password_alone_is_the_credential()
    {
        var options = SshOptions.Load(Settings(("SSH_KEY_PATH", ""), ("SSH_PASSWORD", "hunter2-pw")));

        Assert.Equal("password", options.Credential.Kind);
    }

    [Fact]
    public void A_key_file_that_is_not_a_key_stops_start_up_naming_it()
    {
        var notAKey = Write("not-a-key", "hello");

        var e = Assert.Throws<InvalidSettingException>(() => SshOptions.Load(Settings(("SSH_KEY_PATH", notAKey))));

        Assert.Equal("WORKER_SSH_KEY_PATH", e.Variable);
        Assert.StartsWith($"WORKER_SSH_KEY_PATH={notAKey} is not valid: a private key file this worker can read", e.Message);
    }

    [Fact]
    public void A_host_listed_twice_stops_start_up()
    {
        var e = Assert.Throws<InvalidSettingException>(() => SshOptions.Load(Settings(("SSH_HOSTS", "mac1,runner@mac1:22"))));

        Assert.Contains("runner@mac1:22 is listed twice", e.Message);
    }

    [Fact]
    public void The_old_travis_prefix_is_read_too()
    {
        var variables = new Dictionary<string, string>
        {
            ["TRAVIS_WORKER_SSH_HOSTS"] = "ci@mac1",
            ["TRAVIS_WORKER_SSH_PASSWORD"] = "pw",
            ["TRAVIS_WORKER_SSH_INSECURE_ACCEPT_ANY_HOST_KEY"] = "true",
        };

        var options = SshOptions.Load(new SettingsSource(variables));

        Assert.Equal([new SshEndpoint("mac1", 22, "ci")], options.Endpoints);
    }

    /// <summary>Complete settings for hosts mac1 and ci@mac2:2222, with <paramref name="overrides"/> (an empty value unsets a key).</summary>
    private SettingsSource Settings(params (string Key, string Value)[] overrides)
    {
        var keyFile = Path.Combine(_dir, "id_ed25519");
        if (!File.Exists(keyFile))
        {
            TestSshd.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile).GetAwaiter().GetResult();
        }
        var variables = new Dictionary<string, string>
        {
            ["WORKER_SSH_HOSTS"] = "mac1",
            ["WORKER_SSH_USER"] = "runner",
            ["WORKER_SSH_KEY_PATH"] = keyFile,
            ["WORKER_SSH_KNOWN_HOSTS"] = Write("known_hosts", $"mac1 {HostKey}\n[mac2]:2222 {HostKey}\n"),
        };
        foreach (var (key, value) in overrides)
        {
            variables["WORKER_" + key] = value;
        }
        return new SettingsSource(variables);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
