using System.Text;

namespace Worker.Ssh.Tests;

/// <summary>Uploading a script and running it: live output, exit status, a terminal on request, lost connections, cancel.</summary>
[Trait("Category", "Integration")]
public sealed class SshRunTests : SshdTest
{
    [Fact]
    public async Task An_upload_lands_in_the_login_directory_byte_for_byte()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var content = Encoding.UTF8.GetBytes("echo 'grüße'\n" + new string('x', 300_000));

        await machine.UploadAsync("build.sh", content, null, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(sshd.Home, "build.sh")));
    }

    [Fact]
    public async Task An_upload_that_must_create_its_file_refuses_a_machine_that_already_has_one()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        await File.WriteAllTextAsync(Path.Combine(sshd.Home, "build.sh"), "another job's script");

        var e = await Assert.ThrowsAsync<RemoteFileExistsException>(() =>
            machine.UploadAsync("build.sh", "echo mine"u8.ToArray(), new SshUploadOptions { RefuseExisting = true, Attempts = 3 }, CancellationToken.None));

        Assert.Equal("build.sh", e.Path);
        Assert.Equal("another job's script", await File.ReadAllTextAsync(Path.Combine(sshd.Home, "build.sh")));
    }

    [Fact]
    public async Task An_upload_is_tried_again_until_the_machine_takes_it()
    {
        var port = TestSshd.FreePort();
        await using var machine = Connect("127.0.0.1", port);
        var retries = new SshUploadOptions { Attempts = 1000, RetryPause = TimeSpan.FromMilliseconds(100) };

        var upload = machine.UploadAsync("build.sh", "echo hi"u8.ToArray(), retries, CancellationToken.None);
        await Eventually.TrueAsync(() => LoggedLines("attempt 1:") > 0, "an upload attempt failed");
        var sshd = await StartSshdAsync(port: port);
        await upload;

        Assert.Equal("echo hi", await File.ReadAllTextAsync(Path.Combine(sshd.Home, "build.sh")));
    }

    [Fact]
    public async Task An_upload_to_a_machine_that_is_gone_fails_naming_it_after_the_attempts_allowed()
    {
        var port = TestSshd.FreePort();
        await using var machine = Connect("127.0.0.1", port);

        var e = await Assert.ThrowsAsync<SshUnreachableException>(() => machine.UploadAsync("build.sh", "echo hi"u8.ToArray(),
            new SshUploadOptions { Attempts = 2, RetryPause = TimeSpan.Zero }, CancellationToken.None));

        Assert.Equal(new SshEndpoint("127.0.0.1", port, KeyUser), e.Endpoint);
        Assert.Equal(1, LoggedLines("attempt 1:"));
    }

    [Fact]
    public async Task An_upload_to_a_machine_that_stops_answering_ends_when_the_callers_token_does()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        using var cts = new CancellationTokenSource();
        var big = new byte[256 * 1024 * 1024];

        var upload = machine.UploadAsync("big.bin", big, null, cts.Token);
        await Eventually.TrueAsync(() => File.Exists(Path.Combine(sshd.Home, "big.bin")), "the upload began");
        sshd.Freeze();
        // Long enough for the client to use up the frozen server's window and wait inside a write.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await cts.CancelAsync();

        // Bounded, so a write stuck on the frozen connection fails the test instead of hanging it.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => upload.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(new FileInfo(Path.Combine(sshd.Home, "big.bin")).Length < big.Length);
    }

    [Fact]
    public async Task A_command_on_a_machine_that_stops_answering_ends_when_the_callers_token_does()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        await machine.RunCommandAsync("true", CancellationToken.None);
        sshd.Freeze();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        // SSH.NET opens a command's channel synchronously: on a frozen host that held the caller for the
        // session's whole operation timeout (10 s) whatever its token said.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => machine.RunCommandAsync("true", cts.Token).WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_script_on_a_machine_that_stops_answering_ends_within_the_kill_budget_once_cancelled()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd, options: Options with { KillTimeout = TimeSpan.FromSeconds(2) });
        using var cts = new CancellationTokenSource();
        var log = new CollectingLog();

        var run = RunAsync(machine, "echo started; sleep 600", log, ct: cts.Token);
        await Eventually.TrueAsync(() => log.Text.Contains("started", StringComparison.Ordinal), "the script runs");
        sshd.Freeze();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(8)));
    }

    [Fact]
    public async Task Closing_the_connection_to_a_machine_that_stops_answering_does_not_wait_for_it()
    {
        var sshd = await StartSshdAsync();
        var machine = Connect(sshd);
        await machine.RunCommandAsync("true", CancellationToken.None);
        sshd.Freeze();

        await machine.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Output_reaches_the_log_while_the_script_still_runs()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var log = new CollectingLog();

        var run = RunAsync(machine, "echo first-line; while [ ! -e go ]; do sleep 0.05; done; echo last-line >&2", log);
        await Eventually.TrueAsync(() => log.Text.Contains("first-line", StringComparison.Ordinal), "the first line is in the log");
        Assert.DoesNotContain("last-line", log.Text);
        await File.WriteAllTextAsync(Path.Combine(sshd.Home, "go"), "");

        Assert.Equal(0, (await run).ExitCode);
        Assert.Contains("last-line", log.Text);
    }

    [Theory]
    [InlineData("exit 3", 3)]
    [InlineData("false", 1)]
    [InlineData("true", 0)]
    [InlineData("kill -KILL $$", 137)]
    public async Task The_scripts_exit_status_comes_back(string script, int status)
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);

        var result = await RunAsync(machine, script, new CollectingLog());

        Assert.Equal(SshRunResult.Exited(status), result);
    }

    [Theory]
    [InlineData(true, "on a terminal")]
    [InlineData(false, "not on a terminal")]
    public async Task The_script_runs_on_a_terminal_only_when_asked(bool pty, string expected)
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var log = new CollectingLog();

        var result = await RunAsync(machine, "if test -t 1; then echo on a terminal; else echo not on a terminal; fi; exit 4", log, pty);

        Assert.Equal(4, result.ExitCode);
        Assert.Contains(expected, log.Text);
        Assert.DoesNotContain(pty ? "not on a terminal" : "\r\n", log.Text);
    }

    [Fact]
    public async Task A_script_in_a_directory_whose_name_needs_quoting_runs_there()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var dir = Path.Combine(sshd.Home, "it's a $dir");
        Directory.CreateDirectory(dir);
        await TestSshd.RunAsync("chown", KeyUser, dir);
        await machine.UploadAsync("it's a $dir/job's.sh", "pwd"u8.ToArray(), null, CancellationToken.None);
        var log = new CollectingLog();

        var result = await machine.RunScriptAsync(new RemoteScript("job's.sh") { WorkingDirectory = "it's a $dir", Pty = true }, log, CancellationToken.None);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"/home/{KeyUser}/it's a $dir", log.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_machine_that_dies_mid_script_is_a_lost_connection_not_an_exit(bool pty)
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var log = new CollectingLog();

        var run = RunAsync(machine, "echo running; sleep 600", log, pty);
        await Eventually.TrueAsync(() => log.Text.Contains("running", StringComparison.Ordinal), "the script runs");
        sshd.Dispose();

        var result = await run;
        Assert.True(result.ConnectionLost, result.ToString());
        Assert.Null(result.ExitCode);
        Assert.Contains(sshd.Options.Ip, result.LostReason);
    }

    [Fact]
    public async Task A_killed_sshd_session_is_a_lost_connection_and_the_next_run_reconnects()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var log = new CollectingLog();

        var run = RunAsync(machine, "echo running; sleep 600", log);
        await Eventually.TrueAsync(() => log.Text.Contains("running", StringComparison.Ordinal), "the script runs");
        sshd.KillSessions();

        Assert.True((await run).ConnectionLost);
        Assert.Equal(SshRunResult.Exited(0), await RunAsync(machine, "echo again", log));
        Assert.Contains("again", log.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Cancelling_kills_the_script_and_everything_it_started(bool pty)
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var log = new CollectingLog();
        var marker = Marker();
        using var cts = new CancellationTokenSource();

        var run = RunAsync(machine, $"{Leftover(marker)}\necho started; sleep 600; echo never", log, pty, cts.Token);
        await Eventually.TrueAsync(() => log.Text.Contains("started", StringComparison.Ordinal), "the script runs");
        Assert.Contains(sshd.CommandLines(), c => c.StartsWith(marker, StringComparison.Ordinal));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await Eventually.TrueAsync(() => !sshd.CommandLines().Any(c => c.StartsWith(marker, StringComparison.Ordinal) || c.Contains("sleep 600")),
            "nothing the script started runs", explain: () => string.Join("\n", sshd.CommandLines()));
        Assert.DoesNotContain("never", log.Text);
    }

    [Fact]
    public async Task Cancelling_scripts_over_and_over_never_gets_the_connection_dropped()
    {
        // OpenSSH drops the whole connection when a request reaches a channel it has freed. A signal sent
        // as a killed script's channel closed did that about once in a hundred cancels, and the job's
        // clean-up that followed on the connection failed; a few hundred cancels show it.
        var sshd = await StartSshdAsync(configure: o => o with { LogLevel = "INFO" });
        await using var machine = Connect(sshd);
        await machine.UploadAsync("job.sh", "echo started; sleep 600"u8.ToArray(), null, CancellationToken.None);
        var failures = new List<string>();

        for (var i = 0; i < 500 && failures.Count == 0; i++)
        {
            var log = new CollectingLog();
            using var cts = new CancellationTokenSource();
            var run = machine.RunScriptAsync(new RemoteScript("job.sh"), log, cts.Token);
            await Eventually.TrueAsync(() => log.Text.Contains("started", StringComparison.Ordinal), "the script runs");
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
            try
            {
                await machine.RunCommandAsync("true", CancellationToken.None);
            }
            catch (Exception e)
            {
                failures.Add($"cancel {i}: {e.Message}");
            }
        }

        Assert.Empty(failures);
        Assert.DoesNotContain("unknown channel", sshd.Errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task What_a_script_leaves_running_is_killed_when_it_exits_and_does_not_hold_the_run_open(bool pty)
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        var marker = Marker();

        // A leftover holding the output open would keep the run open for its 600 s; waiting a minute shows it does not.
        var result = await RunAsync(machine, $"{Leftover(marker)}\n(exec -a {marker}-out sleep 600 >&1) &\necho done", new CollectingLog(), pty)
            .WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(0, result.ExitCode);
        await Eventually.TrueAsync(() => !sshd.CommandLines().Any(c => c.StartsWith(marker, StringComparison.Ordinal)),
            "the leftovers are gone", explain: () => string.Join("\n", sshd.CommandLines()));
    }

    [Fact]
    public async Task A_short_command_returns_its_status_and_output()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);

        var made = await machine.RunCommandAsync("mkdir -p builds/1 && echo made; echo warn >&2; exit 5", CancellationToken.None);

        Assert.Equal(new SshCommandResult(5, "made\n", "warn\n"), made);
        Assert.True(Directory.Exists(Path.Combine(sshd.Home, "builds", "1")));
    }
}
