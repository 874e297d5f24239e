using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;
using Worker.Ssh.BareMetal;

namespace Worker.Ssh.Tests.BareMetal;

/// <summary>
/// Hosts that go down: a host that refuses is set aside and the others run the jobs; a host that
/// dies mid-job has its job restarted on another; every host down stops this worker's intake.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SshHostFailureTests : BareMetalTest
{
    private const string HoldScript = "script: [\"echo on $(id -un)\", \"touch $HOME/started\", \"while [ -e $HOME/hold ]; do sleep 0.1; done\"]";

    [Fact]
    public async Task One_host_going_down_requeues_its_job_and_the_other_host_runs_it()
    {
        var (a, b) = await StartTwoHostsAsync();
        foreach (var host in new[] { a, b })
        {
            await File.WriteAllTextAsync(Path.Combine(host.Home, "hold"), "");
        }
        var (queue, _) = StartPool(Backend([a, b]), 2);

        var job = queue.Enqueue(Job(HoldScript));
        await Eventually.TrueAsync(() => File.Exists(Path.Combine(a.Home, "started")) || File.Exists(Path.Combine(b.Home, "started")), "the job runs on a host");
        var (down, up) = File.Exists(Path.Combine(a.Home, "started")) ? (a, b) : (b, a);
        File.Delete(Path.Combine(up.Home, "hold"));
        down.Dispose(); // the host dies whole, its sshd and the job's processes with it

        Assert.Equal("requeued", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("requeued", job.Events); // counted: the job's own script may have brought its host down
        Assert.Contains($"The connection to {Entry(down)} was lost", job.Log);
        Assert.Equal("passed", await job.Requeued!.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"on {up.Options.User}", job.Requeued.Log);
        Assert.DoesNotContain($"Logging in to {Entry(down)}", job.Requeued.Log);
        Assert.Equal(1, LoggedLines($"SSH host {Entry(down)} is set aside for 1m: the connection dropped during job"));
    }

    [Fact]
    public async Task A_host_that_refuses_logins_is_set_aside_and_the_jobs_run_on_the_others_without_a_requeue()
    {
        var (a, b) = await StartTwoHostsAsync();
        var backend = Backend([a, b]);
        a.Dispose(); // nothing listens at its address any more
        var (queue, _) = StartPool(backend, 1);

        var first = queue.Enqueue(Job("script: [\"echo on $(id -un)\"]"));
        Assert.Equal("passed", await first.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        var second = queue.Enqueue(Job("script: [\"echo on $(id -un)\"]"));
        Assert.Equal("passed", await second.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));

        Assert.Contains($"Host {Entry(a)} is set aside for 1m: SSH to {Entry(a)} failed 2 time(s)", first.Log);
        Assert.Contains($"on {HostUserB}", first.Log);
        Assert.DoesNotContain($"Logging in to {Entry(a)}", second.Log);
        Assert.DoesNotContain(first.Events.Concat(second.Events), e => e.StartsWith("requeued", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_job_that_finds_every_free_host_set_aside_waits_for_a_busy_one()
    {
        var (a, b) = await StartTwoHostsAsync();
        var backend = Backend([a, b]);
        a.Dispose();
        await File.WriteAllTextAsync(Path.Combine(b.Home, "hold"), "");
        var (queue, _) = StartPool(backend, 2);

        var holding = queue.Enqueue(Job(HoldScript));
        await Eventually.TrueAsync(() => File.Exists(Path.Combine(b.Home, "started")), "the first job runs on the host that works");
        var waiting = queue.Enqueue(Job("script: [\"echo on $(id -un)\"]"));
        await Eventually.TrueAsync(() => waiting.Log.Contains("Every host is busy or set aside; waiting for one", StringComparison.Ordinal), "the second job waits");
        File.Delete(Path.Combine(b.Home, "hold"));

        Assert.Equal("passed", await holding.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal("passed", await waiting.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"{Entry(a)} set aside until", waiting.Log);
        Assert.Contains($"{Entry(b)} runs job {holding.Payload.JobId}", waiting.Log);
        Assert.Contains($"on {HostUserB}", waiting.Log);
    }

    [Fact]
    public async Task Every_host_down_is_this_workers_failure_and_stops_its_intake_until_a_host_answers_again()
    {
        var (a, b) = await StartTwoHostsAsync();
        var backend = Backend([a, b]);
        var bPort = b.Options.Port;
        a.Dispose();
        b.Dispose();
        var breakerOptions = new HostBreakerOptions { Threshold = 1, ProbeInterval = TimeSpan.FromMilliseconds(200), ProbeMaxInterval = TimeSpan.FromMilliseconds(400) };
        await using var breaker = new HostCircuitBreaker(backend, breakerOptions, Loggers.CreateLogger<HostCircuitBreaker>());
        var (queue, _) = StartPool(backend, 2, breaker);

        var job = queue.Enqueue(Job("script: [\"echo on $(id -un)\"]"));

        Assert.Equal("requeued", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.Contains("every host of WORKER_SSH_HOSTS is set aside", job.RequeueReason);
        Assert.Equal(BreakerState.Open, breaker.State);
        Assert.Contains("backend ssh is unusable: every host of WORKER_SSH_HOSTS is set aside", breaker.Reason);
        Assert.Equal(1, LoggedLines("Every host of WORKER_SSH_HOSTS is down"));
        await Eventually.TrueAsync(() => LoggedLines("Probe of backend ssh failed: no host of WORKER_SSH_HOSTS takes a login") > 0, "a probe found no host");

        await StartHostAsync("host-b", HostUserB, bPort);

        Assert.Equal("passed", await FinalOutcomeAsync(job));
        Assert.Contains($"on {HostUserB}", LastAttempt(job).Log);
        Assert.NotEqual(BreakerState.Open, breaker.State);
    }

    [Fact]
    public async Task A_directory_left_on_a_host_that_dropped_out_is_removed_before_its_next_job()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var port = host.Options.Port;
        await File.WriteAllTextAsync(Path.Combine(host.Home, "hold"), "");
        var backend = Backend([host], ("SSH_HOST_RETRY", "1s"));
        var breakerOptions = new HostBreakerOptions { Threshold = 1, ProbeInterval = TimeSpan.FromMilliseconds(200), ProbeMaxInterval = TimeSpan.FromMilliseconds(400) };
        await using var breaker = new HostCircuitBreaker(backend, breakerOptions, Loggers.CreateLogger<HostCircuitBreaker>());
        var (queue, _) = StartPool(backend, 1, breaker);

        var job = queue.Enqueue(Job(HoldScript));
        await Eventually.TrueAsync(() => File.Exists(Path.Combine(host.Home, "started")), "the job runs");
        var left = Assert.Single(JobDirectories(host));
        host.Dispose();
        Assert.Equal("requeued", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.True(Directory.Exists(left));
        File.Delete(Path.Combine(host.Home, "hold"));
        var back = await StartHostAsync("host-a", HostUserA, port);

        Assert.Equal("passed", await FinalOutcomeAsync(job));
        Assert.Equal(1, LoggedLines($"Removed /home/{HostUserA}/worker-builds/{Path.GetFileName(left)} on {Entry(back)}, left by an earlier job"));
        await Eventually.TrueAsync(() => JobDirectories(back).Length == 0, "no job directory is left", explain: () => string.Join("\n", JobDirectories(back)));
    }

    [Fact]
    public async Task A_host_showing_a_key_known_hosts_does_not_list_is_set_aside_naming_the_setting_and_gets_nothing()
    {
        var (a, b) = await StartTwoHostsAsync();
        var knownHosts = Path.Combine(Dir, "known_hosts-wrong-key");
        // a is listed with b's key: whoever answers at a's address is not the host the operator listed.
        await File.WriteAllLinesAsync(knownHosts, [$"{a.KnownHostsName} {b.HostPublicKey}", $"{b.KnownHostsName} {b.HostPublicKey}"]);
        var (queue, _) = StartPool(SshRegistration.CreateBackend(Settings([a, b], ("SSH_KNOWN_HOSTS", knownHosts)), Loggers), 1);

        var job = queue.Enqueue(Job("script: [\"echo on $(id -un)\"]"));

        Assert.Equal("passed", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"on {HostUserB}", job.Log);
        Assert.Contains($"Host {Entry(a)} is set aside for 1m: {Entry(a)} presented host key ssh-ed25519", job.Log);
        Assert.Contains("(check WORKER_SSH_KNOWN_HOSTS)", job.Log);
        Assert.Empty(JobDirectories(a));
    }

    [Fact]
    public async Task Accepting_any_host_key_works_and_says_so_at_start_and_in_every_jobs_log()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var backend = SshRegistration.CreateBackend(Settings([host], ("SSH_KNOWN_HOSTS", ""), ("SSH_INSECURE_ACCEPT_ANY_HOST_KEY", "true")), Loggers);
        Assert.Equal(1, LoggedLines(SshOptions.InsecureWarning));
        var (queue, _) = StartPool(backend, 1);

        var jobs = new[] { queue.Enqueue(Job("script: [\"true\"]")), queue.Enqueue(Job("script: [\"true\"]")) };

        foreach (var job in jobs)
        {
            Assert.Equal("passed", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
            Assert.Contains("WARNING: " + SshOptions.InsecureWarning, job.Log);
            Assert.Contains(", not checked) in /home/", job.Log);
        }
    }

    [Fact]
    public async Task A_probe_takes_back_a_host_that_answers_again_before_its_retry_time()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var port = host.Options.Port;
        var backend = Backend([host], ("SSH_HOST_RETRY", "1h"));
        host.Dispose();
        var failed = await Assert.ThrowsAsync<BackendFailureException>(() => backend.StartAsync(Attributes(), new Progress<string>(), CancellationToken.None));
        Assert.Equal(FailureKind.Host, failed.Kind);
        var probe = await Assert.ThrowsAsync<BackendFailureException>(() => backend.ProbeAsync(CancellationToken.None));
        Assert.Contains($"no host of WORKER_SSH_HOSTS takes a login: {Entry(host)}: SSH to {Entry(host)} failed 1 time(s)", probe.Message);

        await StartHostAsync("host-a", HostUserA, port);
        await backend.ProbeAsync(CancellationToken.None);
        await using var instance = await backend.StartAsync(Attributes(), new Progress<string>(), CancellationToken.None);
        await instance.StopAsync(CancellationToken.None);

        Assert.Equal(Entry(host), instance.ImageName);
        Assert.Equal(1, LoggedLines($"SSH host {Entry(host)} answers again"));
    }

    [Fact]
    public async Task A_probe_passes_while_a_host_runs_a_job_though_the_others_are_down()
    {
        var (a, b) = await StartTwoHostsAsync();
        var backend = Backend([a, b]);
        a.Dispose();
        await using var onB = await backend.StartAsync(Attributes(), new Progress<string>(), CancellationToken.None);

        await backend.ProbeAsync(CancellationToken.None);
        await onB.StopAsync(CancellationToken.None);

        Assert.Equal(Entry(b), onB.ImageName);
        Assert.Equal(1, LoggedLines($"SSH host {Entry(a)} is set aside for 1m: SSH to {Entry(a)} failed 2 time(s)"));
        Assert.Equal(1, LoggedLines($"SSH host {Entry(a)} is set aside for 1m: SSH to {Entry(a)} failed 1 time(s)"));
    }

    private static StartAttributes Attributes() => new() { JobId = 7 };
}
