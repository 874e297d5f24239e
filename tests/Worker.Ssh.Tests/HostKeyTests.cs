namespace Worker.Ssh.Tests;

/// <summary>Host keys against real sshds: the pinned first key, known_hosts lists as ssh-keygen writes them, and refusals that send nothing.</summary>
[Trait("Category", "Integration")]
public sealed class HostKeyTests : SshdTest
{
    [Fact]
    public async Task A_machine_that_shows_another_key_than_the_pinned_one_gets_nothing()
    {
        var sshd = await StartSshdAsync();
        var pin = HostKeyPolicy.PinFirstKey();
        await using var machine = Connect(sshd, hostKeys: pin);
        await machine.ConnectAsync(CancellationToken.None);
        var pinned = pin.Fingerprint;
        sshd.Dispose();
        // Another machine took over the address: same place, another host key.
        await StartSshdAsync(port: sshd.Options.Port, freshHostKey: true);

        var e = await Assert.ThrowsAsync<HostKeyRejectedException>(() =>
            machine.UploadAsync("build.sh", "echo hi"u8.ToArray(), new SshUploadOptions { Attempts = 3 }, CancellationToken.None));

        Assert.Contains($"{KeyUser}@{sshd.Options.Ip}:{sshd.Options.Port} presented host key", e.Message);
        Assert.Contains($"not the pinned {pinned}", e.Message);
        Assert.False(File.Exists(Path.Combine(sshd.Home, "build.sh")));
        Assert.Equal(pinned, pin.Fingerprint);
    }

    [Theory]
    [InlineData("ed25519")]
    [InlineData("rsa")]
    [InlineData("ecdsa")]
    public async Task A_host_listed_in_known_hosts_is_accepted(string hostKeyType)
    {
        var sshd = await StartSshdAsync(hostKeyType: hostKeyType);
        var knownHosts = KnownHosts.Parse($"other-host {SomeOtherKey}\n{sshd.KnownHostsName} {sshd.HostPublicKey}\n", "known_hosts");
        await using var machine = Connect(sshd, hostKeys: knownHosts);

        Assert.Equal(0, (await machine.RunCommandAsync("true", CancellationToken.None)).ExitCode);
    }

    [Fact]
    public async Task A_known_hosts_file_hashed_by_ssh_keygen_is_accepted()
    {
        var sshd = await StartSshdAsync();
        var path = Path.Combine(Dir, "known_hosts");
        await File.WriteAllTextAsync(path, $"{sshd.KnownHostsName} {sshd.HostPublicKey}\n");
        await TestSshd.RunAsync("ssh-keygen", "-H", "-f", path);
        var knownHosts = KnownHosts.Load(path);
        Assert.StartsWith("|1|", await File.ReadAllTextAsync(path));
        await using var machine = Connect(sshd, hostKeys: knownHosts);

        Assert.Equal(0, (await machine.RunCommandAsync("true", CancellationToken.None)).ExitCode);
    }

    [Fact]
    public async Task A_host_whose_key_is_not_the_listed_one_is_refused_and_runs_nothing()
    {
        var sshd = await StartSshdAsync();
        var knownHosts = KnownHosts.Parse($"{sshd.KnownHostsName} {SomeOtherKey}\n", "known_hosts");
        await using var machine = Connect(sshd, hostKeys: knownHosts, options: Options with { MaxAttempts = null });

        var e = await Assert.ThrowsAsync<HostKeyRejectedException>(() => machine.ConnectAsync(CancellationToken.None));

        Assert.Contains($"which is not the key known_hosts lists for {sshd.KnownHostsName} (line 1)", e.Message);
        Assert.Equal(new SshEndpoint(sshd.Options.Ip, sshd.Options.Port, KeyUser), e.Endpoint);
    }

    [Fact]
    public async Task A_host_missing_from_known_hosts_is_refused()
    {
        var sshd = await StartSshdAsync();
        var knownHosts = KnownHosts.Parse($"other-host {sshd.HostPublicKey}\n", "known_hosts");
        await using var machine = Connect(sshd, hostKeys: knownHosts);

        var e = await Assert.ThrowsAsync<HostKeyRejectedException>(() => machine.ConnectAsync(CancellationToken.None));

        Assert.Contains($"known_hosts lists no key for {sshd.KnownHostsName}", e.Message);
    }

    [Fact]
    public async Task Accepting_any_key_logs_in_anywhere()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd, hostKeys: HostKeyPolicy.AcceptAnyKey);

        Assert.Equal(0, (await machine.RunCommandAsync("true", CancellationToken.None)).ExitCode);
    }

    private const string SomeOtherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9PwJhgdY+/tHnNQvrP0d1OWJJVa68J95zb7l4V/o0Q";
}
