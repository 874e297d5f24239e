using Worker.Ssh.BareMetal;

namespace Worker.Ssh.Tests.BareMetal;

/// <summary>Jobs on a pool of bare-metal hosts: one job per host, a fresh directory each, nothing left behind.</summary>
[Trait("Category", "Integration")]
public sealed class SshBackendJobTests : BareMetalTest
{
    [Fact]
    public async Task Two_jobs_run_at_once_on_different_hosts()
    {
        var (a, b) = await StartTwoHostsAsync();
        var (queue, _) = StartPool(Backend([a, b]), 2);
        const string Script = "script: [\"touch $HOME/started-$TRAVIS_JOB_ID\", \"while [ ! -e $HOME/go ]; do sleep 0.1; done\", \"echo ran as $(id -un)\"]";

        var first = queue.Enqueue(Job(Script));
        var second = queue.Enqueue(Job(Script));
        await Eventually.TrueAsync(() => Started(a).Length == 1 && Started(b).Length == 1, "each host runs one of the two jobs");
        await File.WriteAllTextAsync(Path.Combine(a.Home, "go"), "");
        await File.WriteAllTextAsync(Path.Combine(b.Home, "go"), "");

        Assert.Equal("passed", await first.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal("passed", await second.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal([$"ran as {HostUserA}", $"ran as {HostUserB}"],
            new[] { first.Log, second.Log }.Select(l => l.Contains($"ran as {HostUserA}", StringComparison.Ordinal) ? $"ran as {HostUserA}" : $"ran as {HostUserB}").Order());

        static string[] Started(TestSshd host) => Directory.GetFiles(host.Home, "started-*");
    }

    [Fact]
    public async Task A_background_sleep_the_job_left_behind_is_gone_after_the_job_ends_and_so_is_its_directory()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var (queue, _) = StartPool(Backend([host]), 1);
        var marker = Marker();

        var job = queue.Enqueue(Job($"script: [\"{Leftover(marker)}\", \"until pgrep -f {marker} >/dev/null; do sleep 0.05; done; echo left running\", \"echo in $PWD\"]"));

        Assert.Equal("passed", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("left running", job.Log);
        Assert.Contains($"in /home/{HostUserA}/worker-builds/ssh-{job.Payload.JobId}-", job.Log);
        await Eventually.TrueAsync(() => !host.CommandLines().Any(c => c.Contains(marker, StringComparison.Ordinal)), "the job's leftover is gone",
            explain: () => string.Join("\n", host.CommandLines()));
        await Eventually.TrueAsync(() => JobDirectories(host).Length == 0, "the job's directory is removed",
            explain: () => string.Join("\n", JobDirectories(host)));
    }

    [Theory]
    [InlineData("timeout")]
    [InlineData("cancel")]
    public async Task A_job_ended_by_timeout_or_cancel_leaves_nothing_running_and_no_directory(string how)
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var (queue, _) = StartPool(Backend([host]), 1);
        var marker = Marker();
        var timeout = how == "timeout" ? "timeout: 3s\n" : "";

        var job = queue.Enqueue(Job($"{timeout}script: [\"{Leftover(marker)}\", \"echo started\", \"sleep 600\"]"));
        if (how == "cancel")
        {
            await Eventually.TrueAsync(() => job.Log.Contains("started", StringComparison.Ordinal), "the script runs");
            Assert.True(Cancellations.Cancel(job.Payload.JobId, "test"));
        }

        Assert.Equal(how == "timeout" ? "errored" : "cancelled", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        await Eventually.TrueAsync(() => !host.CommandLines().Any(c => c.Contains(marker, StringComparison.Ordinal) || c.Contains("sleep 600", StringComparison.Ordinal)),
            "nothing the job started runs", explain: () => string.Join("\n", host.CommandLines()));
        // Seen once in CI: the directory stayed. What was left, and what the backend logged, say why.
        await Eventually.TrueAsync(() => JobDirectories(host).Length == 0, "the job's directory is removed",
            explain: () => string.Join("\n", JobDirectories(host).SelectMany(d => Directory.EnumerateFileSystemEntries(d, "*", SearchOption.AllDirectories).Prepend(d)))
                + "\nlogged:\n" + LoggedText());
    }

    [Fact]
    public async Task Each_job_gets_a_fresh_directory_under_the_build_root_it_can_write_even_an_absolute_one()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var (queue, _) = StartPool(Backend([host], ("SSH_BUILD_ROOT", $"/home/{HostUserA}/ci root")), 1);
        const string Script = "script: [\"ls -A | sed s/^/found:/\", \"touch mine\", \"chmod 000 .\", \"echo in $PWD\"]";

        var first = queue.Enqueue(Job(Script));
        Assert.Equal("passed", await first.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        var second = queue.Enqueue(Job(Script));
        Assert.Equal("passed", await second.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));

        Assert.Contains($"in /home/{HostUserA}/ci root/ssh-{second.Payload.JobId}-", second.Log);
        Assert.Contains("found:build.sh", second.Log);
        Assert.DoesNotContain("found:mine", second.Log);
        await Eventually.TrueAsync(() => JobDirectories(host, "ci root").Length == 0, "both directories are removed, the unwritable one too",
            explain: () => string.Join("\n", JobDirectories(host, "ci root")));
    }

    [Fact]
    public async Task A_password_logs_in_too()
    {
        var host = await StartSshdAsync(user: PasswordUser, name: "password-host");
        var (queue, _) = StartPool(SshRegistration.CreateBackend(Settings([host], ("SSH_KEY_PATH", ""), ("SSH_PASSWORD", Password)), Loggers), 1);

        var job = queue.Enqueue(Job("script: [\"echo as $(id -un)\"]"));

        Assert.Equal("passed", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"as {PasswordUser}", job.Log);
    }

    [Fact]
    public async Task A_job_that_asks_for_volumes_is_refused_before_any_host_is_touched()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var (queue, _) = StartPool(Backend([host]), 1);

        var job = queue.Enqueue(Job("volumes: [\"/srv:/srv\"]\nscript: [\"true\"]"));

        Assert.Equal("errored", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("the ssh backend does not mount volumes", job.Log);
        Assert.False(Directory.Exists(Path.Combine(host.Home, "worker-builds")));
    }
}
