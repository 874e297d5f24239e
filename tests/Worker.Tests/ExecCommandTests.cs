
namespace Worker.Tests;

/// <summary>`worker exec` as a newcomer runs it: the real executable, the file queue, the local backend.</summary>
public sealed class ExecCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private Dictionary<string, string> Env() => new() { ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state") };

    [Fact]
    public async Task Hello_example_prints_its_output_hides_its_secret_and_exits_0()
    {
        var example = Path.Combine(RepoRoot(), "examples", "hello.yml");
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "exec", example);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("Hello from job", stdout);
        Assert.Contains("after_script always runs", stdout);
        Assert.Contains("the token is [secure]", stdout);
        Assert.DoesNotContain("s3cr3t-value", stdout + stderr);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dir.Path, "state", "local")));
    }

    [Theory]
    [InlineData("exec")]
    [InlineData("submit")]
    public async Task A_job_file_with_a_mistyped_key_stops_with_exit_2_naming_the_key_and_the_one_meant(string command)
    {
        var job = _dir.Write("typo.yml", "scrpt: [\"echo never runs\"]");

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, command, job);

        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("'scrpt' (did you mean 'script'?)", line);
        Assert.DoesNotContain("never runs", stdout);
        var created = Path.Combine(_dir.Path, "state", "builds.linux", "10-created.d");
        Assert.Empty(Directory.Exists(created) ? Directory.GetFiles(created) : []);
    }

    [Fact]
    public async Task Travis_workers_payload_filter_rewrites_what_the_script_is_made_from()
    {
        var filter = _dir.Write("filter.sh", "#!/bin/sh\nsed 's/echo as submitted/echo as filtered/'\n");
        File.SetUnixFileMode(filter, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var job = _dir.Write("job.yml", "script: [\"echo as submitted\"]");
        var env = Env();
        env["PAYLOAD_FILTER_EXECUTABLE"] = filter; // travis-worker's bare name, as its env file may have it
        env["WORKER_PROVIDER_NAME"] = "local";
        env["WORKER_QUEUE_TYPE"] = "file";

        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, "exec", job);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("as filtered", stdout);
        Assert.DoesNotContain("PAYLOAD_FILTER_EXECUTABLE is ignored", stderr);
    }

    [Fact]
    public async Task Job_that_runs_exit_1_exits_1()
    {
        var job = _dir.Write("fail.yml", "script: [\"echo failing\", \"exit 1\"]");
        var (exit, stdout, _, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "exec", job);

        Assert.Equal(1, exit);
        Assert.Contains("failing", stdout);
    }

    [Fact]
    public async Task Job_that_sleeps_past_its_timeout_is_stopped_by_it_exits_124_and_leaves_no_process()
    {
        var marker = "worker-exec-test-" + Guid.NewGuid().ToString("N")[..8];
        // An hour of sleep: the run (which gives up after two minutes) only ends because the timeout ends the job.
        var job = _dir.Write("sleep.yml", $"script: [\"bash -c 'exec -a {marker} sleep 3600' & sleep 3600\"]\ntimeout: 3s");
        var (exit, stdout, _, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "exec", job);

        Assert.Equal(124, exit);
        Assert.Contains("maximum time limit", stdout);
        Assert.False(ProcessWithArgv0Exists(marker), "a process of the job survived");
    }

    [Fact]
    public async Task Bad_job_file_exits_2_with_one_line_saying_why()
    {
        var job = _dir.Write("bad.yml", "script: [x]\ntimeout: whenever");
        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "exec", job);

        Assert.Equal(2, exit);
        Assert.Equal("worker: timeout must be a duration such as 90s, 5m or 1h30m, got 'whenever'", stderr.Trim());
    }

    [Fact]
    public async Task Fake_backend_runs_the_pipeline_without_a_machine()
    {
        var job = _dir.Write("any.yml", "script: [\"true\"]");
        var env = Env();
        env["WORKER_FAKE_LOG_OUTPUT"] = "fake says hi";
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, "exec", job, "--backend", "fake");

        Assert.Equal(0, exit);
        Assert.True(stdout.Contains("fake says hi", StringComparison.Ordinal), $"stdout: {stdout}\nstderr: {stderr}");
    }

    internal static bool ProcessWithArgv0Exists(string argv0) =>
        Directory.EnumerateDirectories("/proc").Any(dir =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0')[0] == argv0;
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        });

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Worker.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Worker.sln not found above " + AppContext.BaseDirectory);
    }
}
