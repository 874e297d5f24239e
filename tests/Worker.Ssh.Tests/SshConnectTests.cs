using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Worker.Ssh.Tests;

/// <summary>Logging in: keys and passwords, waiting for a machine's sshd, and giving up on one that never answers.</summary>
[Trait("Category", "Integration")]
public sealed class SshConnectTests : SshdTest
{
    [Fact]
    public async Task A_key_user_logs_in_with_the_jobs_key_and_the_first_host_key_is_pinned()
    {
        var sshd = await StartSshdAsync();
        var pin = HostKeyPolicy.PinFirstKey();
        await using var machine = Connect(sshd, hostKeys: pin);

        await machine.ConnectAsync(CancellationToken.None);
        var whoami = await machine.RunCommandAsync("id -un", CancellationToken.None);

        Assert.Equal(0, whoami.ExitCode);
        Assert.Equal(KeyUser, whoami.Output.Trim());
        var fingerprint = (await TestSshd.RunAsync("ssh-keygen", "-l", "-E", "sha256", "-f", sshd.HostKeyPath + ".pub")).Split(' ')[1];
        Assert.Equal(fingerprint, pin.Fingerprint);
        Assert.Equal(fingerprint, machine.HostKeyFingerprint);
    }

    [Fact]
    public async Task A_key_file_made_by_ssh_keygen_logs_in()
    {
        var keyFile = Path.Combine(Dir, "id_ed25519");
        await TestSshd.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile);
        var sshd = await StartSshdAsync(authorizedKeys: [await File.ReadAllTextAsync(keyFile + ".pub")]);
        await using var machine = Connect(sshd, credential: SshCredential.FromKeyFile(keyFile));

        var whoami = await machine.RunCommandAsync("id -un", CancellationToken.None);

        Assert.Equal(KeyUser, whoami.Output.Trim());
    }

    [Fact]
    public void A_file_that_is_not_a_private_key_is_refused_naming_it()
    {
        var notAKey = Path.Combine(Dir, "not-a-key");
        File.WriteAllText(notAKey, "hello");

        var e = Assert.Throws<ArgumentException>(() => SshCredential.FromKeyFile(notAKey));

        Assert.Contains(notAKey, e.Message);
    }

    [Fact]
    public async Task A_password_user_logs_in_with_its_password()
    {
        var sshd = await StartSshdAsync(user: PasswordUser);
        await using var machine = Connect(sshd, user: PasswordUser, credential: SshCredential.FromPassword(Password));

        var whoami = await machine.RunCommandAsync("id -un", CancellationToken.None);

        Assert.Equal(PasswordUser, whoami.Output.Trim());
    }

    [Fact]
    public async Task A_password_is_also_given_to_a_host_that_asks_for_it_through_keyboard_interactive_prompts()
    {
        var sshd = await StartSshdAsync(user: PasswordUser, configure: o => o with { KeyboardInteractiveOnly = true });
        await using var machine = Connect(sshd, user: PasswordUser, credential: SshCredential.FromPassword(Password));

        var whoami = await machine.RunCommandAsync("id -un", CancellationToken.None);

        Assert.Equal(PasswordUser, whoami.Output.Trim());
    }

    [Fact]
    public async Task A_wrong_password_is_refused_at_once_naming_host_port_and_user()
    {
        var sshd = await StartSshdAsync(user: PasswordUser);
        await using var machine = Connect(sshd, user: PasswordUser, credential: SshCredential.FromPassword("not-" + Password),
            options: Options with { MaxAttempts = null });

        var e = await Assert.ThrowsAsync<SshAuthenticationRefusedException>(() => machine.ConnectAsync(CancellationToken.None));

        Assert.Equal(new SshEndpoint(sshd.Options.Ip, sshd.Options.Port, PasswordUser), e.Endpoint);
        Assert.Contains($"{PasswordUser}@{sshd.Options.Ip}:{sshd.Options.Port} refused the password", e.Message);
        Assert.Equal(0, LoggedLines("attempt 1"));
    }

    [Fact]
    public async Task A_refused_key_is_tried_again_when_the_machine_may_still_be_installing_it()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd, credential: SshCredential.FromKey(SshKeyPair.Create()),
            options: Options with { RetryRefusedAuthentication = true, MaxAttempts = 2 });

        await Assert.ThrowsAsync<SshAuthenticationRefusedException>(() => machine.ConnectAsync(CancellationToken.None));

        Assert.Equal(1, LoggedLines("attempt 1"));
    }

    [Fact]
    public async Task Connecting_is_retried_until_the_machines_sshd_comes_up()
    {
        var port = TestSshd.FreePort();
        await using var machine = Connect("127.0.0.1", port, options: Options with { MaxAttempts = null });

        var connecting = machine.ConnectAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => LoggedLines("attempt 2") > 0, "two attempts failed");
        Assert.False(connecting.IsCompleted);
        await StartSshdAsync(port: port);
        await connecting;

        Assert.Equal(0, (await machine.RunCommandAsync("true", CancellationToken.None)).ExitCode);
    }

    [Fact]
    public async Task Waiting_for_a_machine_ends_when_the_callers_token_does()
    {
        await using var machine = Connect("127.0.0.1", TestSshd.FreePort(), options: Options with { MaxAttempts = null });
        using var cts = new CancellationTokenSource();

        var connecting = machine.ConnectAsync(cts.Token);
        await Eventually.TrueAsync(() => LoggedLines("attempt 1") > 0, "an attempt failed");
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting);
    }

    [Fact]
    public async Task A_port_nobody_listens_on_is_unreachable_after_the_attempts_allowed()
    {
        var port = TestSshd.FreePort();
        await using var machine = Connect("127.0.0.1", port);

        var e = await Assert.ThrowsAsync<SshUnreachableException>(() => machine.ConnectAsync(CancellationToken.None));

        Assert.Equal(3, e.Attempts);
        Assert.Contains($"{KeyUser}@127.0.0.1:{port} failed 3 time(s)", e.Message);
    }

    [Fact]
    public async Task A_hung_sshd_that_never_greets_is_given_up_after_the_dial_timeout()
    {
        var sshd = await StartSshdAsync();
        sshd.Freeze();
        await using var machine = Connect(sshd, options: Options with { DialTimeout = TimeSpan.FromMilliseconds(500), MaxAttempts = 2 });

        var e = await Assert.ThrowsAsync<SshUnreachableException>(() => machine.ConnectAsync(CancellationToken.None));

        Assert.Contains("no SSH greeting within 0.5s", e.Message);
    }

    [Fact]
    public async Task A_server_that_greets_and_then_stalls_is_given_up_after_the_handshake_timeout()
    {
        // sshd can't be stopped between its greeting and the key exchange, so a listener plays that part.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var held = new List<TcpClient>();
        var greeter = Task.Run(async () =>
        {
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync();
                held.Add(client);
                await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.2 stalled\r\n"));
            }
        });
        await using var machine = Connect("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port,
            options: Options with { HandshakeTimeout = TimeSpan.FromMilliseconds(500), MaxAttempts = 1 });

        var e = await Assert.ThrowsAsync<SshUnreachableException>(() => machine.ConnectAsync(CancellationToken.None));

        Assert.Contains("no session within 0.5s of the server's greeting", e.Message);
        listener.Stop();
        held.ForEach(c => c.Dispose());
    }
}
