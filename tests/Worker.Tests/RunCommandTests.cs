using System.Globalization;
using Worker.Commands;
using Worker.Core.Jobs;

namespace Worker.Tests;

/// <summary>`worker run` on the file queue, as a real process that is signalled like a MIG or Kubernetes would.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string QueueDir => Path.Combine(_dir.Path, "state", "builds.test");

    private Dictionary<string, string> Env(string provider = "local") => new()
    {
        ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
        ["WORKER_QUEUE_NAME"] = "builds.test",
        ["WORKER_PROVIDER_NAME"] = provider,
        ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
        ["WORKER_POOL_SIZE"] = "2",
    };

    private void Drop(long id, string yaml)
    {
        var created = Path.Combine(QueueDir, "10-created.d");
        Directory.CreateDirectory(created);
        var payload = Core.Jobs.JobFile.Parse($"id: {id}\n{yaml}", "builds.test");
        File.WriteAllText(Path.Combine(created, ".tmp"), payload.ToJson());
        File.Move(Path.Combine(created, ".tmp"), Path.Combine(created, id.ToString(CultureInfo.InvariantCulture) + ".json"));
    }

    private string StateOf(long id)
    {
        var path = Path.Combine(QueueDir, "70-finished.d", $"{id}.state");
        return File.Exists(path) ? File.ReadAllText(path).Trim() : "";
    }

    [Fact]
    public async Task Job_dropped_into_created_goes_through_to_finished_with_its_log_and_state()
    {
        await using var worker = WorkerProcess.Start(Env(), _dir.Path, "run");
        Drop(101, "script: [\"echo from a dropped job\"]");
        Drop(102, "script: [\"exit 1\"]");

        await worker.UntilAsync(() => StateOf(101) != "" && StateOf(102) != "", "jobs 101 and 102 finished");
        Assert.Equal("passed", StateOf(101));
        Assert.Equal("failed", StateOf(102));
        Assert.True(File.Exists(Path.Combine(QueueDir, "70-finished.d", "101.json")));
        Assert.Contains("from a dropped job", File.ReadAllText(Path.Combine(QueueDir, "log", "101.log")));
        Assert.Empty(Directory.GetFiles(Path.Combine(QueueDir, "10-created.d"), "*.json"));

        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("draining", worker.Stderr);
    }

    [Fact]
    public async Task Sigterm_lets_the_running_job_finish_and_takes_no_new_one()
    {
        // One processor, busy with job 201 until the test releases it, so job 202 waits in the queue
        // and the processor meets it the moment 201 is done: a drain that let it take jobs would take 202 then.
        var env = Env();
        env["WORKER_POOL_SIZE"] = "1";
        var release = Path.Combine(_dir.Path, "release-201");
        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        Drop(201, $"script: [\"echo started\", \"while [ ! -e {release} ]; do sleep 0.1; done\", \"echo finished\"]");
        await worker.UntilAsync(() => File.Exists(Path.Combine(QueueDir, "50-started.d", "201.json")), "job 201 started");
        Drop(202, "script: [\"true\"]");

        worker.Signal("TERM");
        await worker.UntilAsync(() => worker.Stderr.Contains("Draining: ", StringComparison.Ordinal), "the pool drains");
        await File.WriteAllTextAsync(release, "");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("passed", StateOf(201));
        Assert.Contains("finished", File.ReadAllText(Path.Combine(QueueDir, "log", "201.log")));
        Assert.True(File.Exists(Path.Combine(QueueDir, "10-created.d", "202.json")), "the worker took a job while draining");
    }

    [Fact]
    public async Task Second_signal_requeues_the_running_job_at_once()
    {
        var env = Env();
        env["WORKER_SHUTDOWN_TIMEOUT"] = "5m";
        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        Drop(301, "script: [\"sleep 120\"]");
        await worker.UntilAsync(() => File.Exists(Path.Combine(QueueDir, "50-started.d", "301.json")), "job 301 started");

        worker.Signal("TERM");
        await worker.UntilAsync(() => worker.Stderr.Contains("Draining: ", StringComparison.Ordinal), "the pool drains");
        worker.Signal("INT");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.True(File.Exists(Path.Combine(QueueDir, "10-created.d", "301.json")), "the running job was not requeued");
        Assert.Equal("", StateOf(301));
    }

    [Fact]
    public async Task Sigterm_with_a_stop_window_requeues_a_long_job_uncounted_instead_of_waiting_the_shutdown_timeout()
    {
        var env = Env();
        env["WORKER_STOP_WINDOW"] = "4s"; // WORKER_SHUTDOWN_TIMEOUT stays at its 10m
        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        Drop(401, "script: [\"sleep 600\"]");
        await worker.UntilAsync(() => File.Exists(Path.Combine(QueueDir, "50-started.d", "401.json")), "job 401 started");

        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("WORKER_SHUTDOWN_TIMEOUT (10m) does not fit WORKER_STOP_WINDOW (4s)", worker.Stderr);
        Assert.True(File.Exists(Path.Combine(QueueDir, "10-created.d", "401.json")), "the running job was not requeued:\n" + worker.Stderr);
        Assert.Contains("requeue (not counted)", worker.Stderr);
        Assert.Equal("", StateOf(401));
    }

    [Fact]
    public async Task Submit_follow_prints_the_log_and_exits_with_the_result()
    {
        await using var worker = WorkerProcess.Start(Env(), _dir.Path, "run");
        var job = _dir.Write("job.yml", "script: [\"echo followed output\", \"exit 1\"]");
        var (exit, stdout, _, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "submit", job, "--follow");

        Assert.Equal(1, exit);
        Assert.Contains("followed output", stdout);
    }

    [Theory]
    [InlineData("script: [\"exit 3\"]", "errored", OutcomePolicy.WorkerErrorExitCode)]
    [InlineData("timeout: 1s\nscript: [\"sleep 30\"]", "errored", OutcomePolicy.WorkerErrorExitCode)]
    [InlineData("script: [\"true\"]", "passed", 0)]
    public async Task Submit_follow_exits_with_the_code_exec_gives_for_that_finish_state(string yaml, string state, int code)
    {
        await using var worker = WorkerProcess.Start(Env(), _dir.Path, "run");
        var job = _dir.Write("job.yml", yaml);

        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(Env(), _dir.Path, "submit", job, "--follow");

        Assert.Contains($" {state}\n", stderr);
        Assert.Equal(code, exit);
        Assert.Equal(code, OutcomePolicy.ExitCodeOf(FinishStates.FromWireName(state)));
        Assert.NotEqual(CommandErrors.UsageExitCode, exit);
    }
}
