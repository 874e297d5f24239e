using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Worker.Docker.Tests;

/// <summary>`worker exec JOBFILE --backend docker`: the real executable against the real engine.</summary>
[Trait("Category", "Integration")]
public sealed class ExecDockerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-exec-docker-").FullName;
    private readonly string _fleet = DockerEngine.NewFleet();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Worker_exec_with_the_docker_backend_streams_the_log_masks_secrets_and_exits_with_the_jobs_code()
    {
        await DockerEngine.EnsureAvailableAsync();
        var passing = Write("pass.yml", "secrets: { TOKEN: tok-5b4a39 }\nscript: [\"echo inside $(cat /etc/debian_version)\", \"echo token $TOKEN\"]");
        var failing = Write("fail.yml", "script: [\"echo failing\", \"exit 1\"]");

        var (passed, passOut, passErr) = await RunWorkerAsync("exec", passing, "--backend", "docker");
        var (failed, failOut, _) = await RunWorkerAsync("exec", failing, "--backend", "docker");

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

        var (exit, stdout, stderr) = await RunWorkerAsync("exec", job, "--backend", "docker", ("WORKER_DOCKER_STANDBY", "2"));

        Assert.True(exit == 0, stdout + stderr);
        Assert.Empty(await DockerEngine.ContainersOfFleetAsync(_fleet));
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
            var (exit, stdout, stderr) = await RunWorkerAsync("exec", job, "--backend", "docker", ("WORKER_DOCKER_STANDBY", "0"), ("WORKER_DOCKER_ENDPOINT", endpoint));
            output.WriteLine($"worker exec against {endpoint}: exit {exit} after {clock.Elapsed.TotalSeconds:0.00}s");

            Assert.True(exit == 125, stdout + stderr);
            Assert.Contains($"can't reach the Docker engine at {endpoint}: {why} (set WORKER_DOCKER_ENDPOINT or DOCKER_HOST)", stdout);
            Assert.Single(stdout.Split('\n'), line => line.StartsWith("Creating container", StringComparison.Ordinal));
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

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private Task<(int, string, string)> RunWorkerAsync(string verb, string file, string flag, string backend) =>
        RunWorkerAsync(verb, file, flag, backend, ("WORKER_DOCKER_STANDBY", "0"));

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunWorkerAsync(string verb, string file, string flag, string backend,
        params (string Key, string Value)[] extra)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _dir,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "worker.dll"), verb, file, flag, backend })
        {
            start.ArgumentList.Add(a);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("WORKER_", StringComparison.Ordinal) || k.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["WORKER_BASE_DIR"] = Path.Combine(_dir, "state");
        start.Environment["WORKER_FLEET"] = _fleet;
        start.Environment["WORKER_DOCKER_IMAGE_DEFAULT"] = DockerEngine.Image;
        start.Environment["WORKER_DOCKER_PULL"] = "never";
        foreach (var (key, value) in extra)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
