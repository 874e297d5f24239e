using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Worker.Docker.Tests;

/// <summary>`worker exec JOBFILE --backend docker` and `worker run` on Docker: the real executable against the real engine.</summary>
[Trait("Category", "Integration")]
public sealed class ExecDockerTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-exec-docker-").FullName;
    private readonly string _fleet = DockerEngine.NewFleet();

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>The tests check that nothing of their fleet is left; what a failed one left is removed here, so the shared engine stays clean.</summary>
    public async Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        using var client = DockerEngine.Client();
        foreach (var container in await DockerEngine.ContainersOfFleetAsync(_fleet))
        {
            await ContainerLauncher.RemoveAsync(client, container.ID, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Worker_exec_with_the_docker_backend_streams_the_log_masks_secrets_and_exits_with_the_jobs_code()
    {
        await DockerEngine.EnsureAvailableAsync();
        var passing = Write("pass.yml", "secrets: { TOKEN: tok-5b4a39 }\nscript: [\"echo inside $(cat /etc/debian_version)\", \"echo token $TOKEN\"]");
        var failing = Write("fail.yml", "script: [\"echo failing\", \"exit 1\"]");

        var (passed, passOut, passErr, _) = await WorkerProcess.RunAsync(Env(), _dir, "exec", passing, "--backend", "docker");
        var (failed, failOut, _, _) = await WorkerProcess.RunAsync(Env(), _dir, "exec", failing, "--backend", "docker");

        Assert.True(passed == 0, passOut + passErr);
        Assert.Contains("inside ", passOut);
        Assert.Contains("via docker", passOut);
        Assert.Contains("token [secure]", passOut);
        Assert.DoesNotContain("tok-5b4a39", passOut + passErr);
        Assert.Equal(1, failed);
        Assert.Contains("failing", failOut);
        Assert.Empty(await DockerEngine.ContainersOfFleetAsync(_fleet));
    }

    [Fact]
    public async Task Worker_exec_with_standby_configured_leaves_no_standby_behind_when_it_exits()
    {
        await DockerEngine.EnsureAvailableAsync();
        var job = Write("job.yml", "script: [\"true\"]");

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(Env(("WORKER_DOCKER_STANDBY", "2")), _dir, "exec", job, "--backend", "docker");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Empty(await DockerEngine.ContainersOfFleetAsync(_fleet));
    }

    [Fact]
    public async Task Worker_run_drained_with_sigterm_removes_its_idle_standbys_before_it_exits()
    {
        await DockerEngine.EnsureAvailableAsync();
        await using var worker = WorkerProcess.Start(Env(("WORKER_PROVIDER_NAME", "docker"), ("WORKER_DOCKER_STANDBY", "1")), _dir, "run");
        await Eventually.TrueAsync(async () => (await DockerEngine.ContainersOfFleetAsync(_fleet)).Any(c => c.State == "running"),
            "the worker's standby container runs", TimeSpan.FromSeconds(60), gaveUp: () => worker.HasExited, explain: () => worker.Stderr);

        worker.Signal("TERM");

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Empty(await DockerEngine.ContainersOfFleetAsync(_fleet));
    }

    [Fact]
    public async Task A_killed_workers_idle_standby_is_deleted_by_worker_cleanup_once_its_lease_lapsed()
    {
        var standby = await StandbyOfKilledWorkerAsync();
        await WaitUntilLeaseLapsedAsync(standby);

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(Env(("WORKER_PROVIDER_NAME", "docker")), _dir, "cleanup", "--once");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains($"Deleted docker machine {standby.Names[0].TrimStart('/')}", stdout + stderr);
        Assert.Empty(await DockerEngine.ContainersOfFleetAsync(_fleet));
    }

    [Fact]
    public async Task A_killed_workers_idle_standby_is_taken_over_by_the_next_worker_on_the_host_once_its_lease_lapsed()
    {
        var standby = await StandbyOfKilledWorkerAsync();
        await WaitUntilLeaseLapsedAsync(standby);

        await using var next = WorkerProcess.Start(Env(("WORKER_PROVIDER_NAME", "docker"), ("WORKER_DOCKER_STANDBY", "1"), ("WORKER_DOCKER_STANDBY_LEASE", "5s")), _dir, "run");
        await next.UntilAsync(() => next.Stderr.Contains($"Took over idle standby container {standby.ID[..12]}", StringComparison.Ordinal),
            "the next worker takes the standby over", TimeSpan.FromSeconds(60));
        var containers = await DockerEngine.ContainersOfFleetAsync(_fleet);
        next.Signal("TERM");

        Assert.Equal(standby.ID, Assert.Single(containers).ID);
        Assert.Equal(0, await next.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Empty(await DockerEngine.ContainersOfFleetAsync(_fleet));
    }

    /// <summary>A <c>worker run</c> with one standby (a lease of 5 s), killed with SIGKILL once the standby runs: no drain, nothing removed.</summary>
    private async Task<global::Docker.DotNet.Models.ContainerListResponse> StandbyOfKilledWorkerAsync()
    {
        await DockerEngine.EnsureAvailableAsync();
        await using var worker = WorkerProcess.Start(Env(("WORKER_PROVIDER_NAME", "docker"), ("WORKER_DOCKER_STANDBY", "1"), ("WORKER_DOCKER_STANDBY_LEASE", "5s")), _dir, "run");
        await Eventually.TrueAsync(async () => (await DockerEngine.ContainersOfFleetAsync(_fleet)).Any(c => c.State == "running"),
            "the worker's standby container runs", TimeSpan.FromSeconds(60), gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        worker.Kill();
        await worker.WaitAsync(TimeSpan.FromSeconds(30));
        return Assert.Single(await DockerEngine.ContainersOfFleetAsync(_fleet));
    }

    private async Task WaitUntilLeaseLapsedAsync(global::Docker.DotNet.Models.ContainerListResponse standby)
    {
        // The name it has now: the worker may have renewed the lease once more before it died.
        var name = Assert.Single(await DockerEngine.ContainersOfFleetAsync(_fleet), c => c.ID == standby.ID).Names[0];
        Assert.True(StandbyLease.TryParse(name, out _, out var until), name);
        await Eventually.TrueAsync(() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() > until, "the standby's lease has lapsed");
    }

    [Fact]
    public async Task Worker_exec_against_an_engine_nobody_runs_fails_once_with_exit_125_naming_the_endpoint()
    {
        var job = Write("job.yml", "script: [\"echo never\"]");
        var socket = Path.Combine(_dir, "no-engine.sock");
        var closedPort = ClosedLoopbackPort();

        foreach (var (endpoint, why) in new[] { ($"unix://{socket}", $"no socket at {socket}"), ($"tcp://127.0.0.1:{closedPort}", "connection refused") })
        {
            var clock = Stopwatch.StartNew();
            var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(Env(("WORKER_DOCKER_ENDPOINT", endpoint)), _dir, "exec", job, "--backend", "docker");
            output.WriteLine($"worker exec against {endpoint}: exit {exit} after {clock.Elapsed.TotalSeconds:0.00}s");

            Assert.True(exit == 125, stdout + stderr);
            Assert.Contains($"can't reach the Docker engine at {endpoint}: {why} (set WORKER_DOCKER_ENDPOINT or DOCKER_HOST)", stdout);
            // Once: the first call to the engine (the listing of its image tags) fails the job, with no second try.
            Assert.Single(stdout.Split('\n'), line => line.Contains("can't reach the Docker engine", StringComparison.Ordinal));
            Assert.DoesNotContain("requeued", stderr);
        }
    }

    /// <summary>A loopback port that was free a moment ago, so nothing listens there.</summary>
    private static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Dictionary<string, string> Env(params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir, "state"),
            ["WORKER_FLEET"] = _fleet,
            ["WORKER_DOCKER_IMAGE_DEFAULT"] = DockerEngine.Image,
            ["WORKER_DOCKER_PULL"] = "never",
            ["WORKER_DOCKER_STANDBY"] = "0",
        };
        foreach (var (key, value) in extra)
        {
            env[key] = value;
        }
        return env;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
