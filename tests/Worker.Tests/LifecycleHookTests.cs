using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Composition;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Queues;
using Worker.Hooks;
using Worker.TestSupport;

namespace Worker.Tests;

/// <summary>travis-worker's START_HOOK and STOP_HOOK: run by `worker run` before its first job and after its last.</summary>
public sealed class LifecycleHookTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string QueueDir => Path.Combine(_dir.Path, "state", "builds.test");

    [Fact]
    public async Task The_start_hook_runs_before_the_first_job_and_the_stop_hook_after_the_drain()
    {
        var started = Path.Combine(_dir.Path, "started");
        var stopped = Path.Combine(_dir.Path, "stopped");
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["WORKER_QUEUE_NAME"] = "builds.test",
            // A TRAVIS_WORKER_ variable brings travis-worker's defaults (docker, amqp): this runs on the embedded ones.
            ["WORKER_PROVIDER_NAME"] = "local",
            ["WORKER_QUEUE_TYPE"] = "file",
            ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
            // travis-worker's names, as its env file has them; split at spaces, as it split them.
            ["TRAVIS_WORKER_START_HOOK"] = $"touch  {started}",
            ["TRAVIS_WORKER_STOP_HOOK"] = $"touch {stopped}",
        };
        await using var queue = new FileJobQueue(Path.Combine(_dir.Path, "state"), "builds.test", TimeSpan.FromSeconds(1), new JobCancellations(), NullLogger.Instance);
        queue.Submit(JobFile.Parse($"id: 301\nscript: [\"test -e {started} && echo the start hook ran first\"]", "builds.test"));

        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        await worker.UntilAsync(() => File.Exists(Path.Combine(QueueDir, "70-finished.d", "301.state")), "job 301 finished");
        Assert.False(File.Exists(stopped));
        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("passed", File.ReadAllText(Path.Combine(QueueDir, "70-finished.d", "301.state")).Trim());
        Assert.Contains("the start hook ran first", File.ReadAllText(Path.Combine(QueueDir, "log", "301.log")));
        Assert.True(File.Exists(stopped), "the stop hook did not run");
        Assert.DoesNotContain("START_HOOK is ignored", worker.Stderr);
    }

    [Fact]
    public async Task Sigterm_during_the_start_hook_exits_0_without_taking_a_job()
    {
        var hooked = Path.Combine(_dir.Path, "hooked");
        var env = new Dictionary<string, string>
        {
            ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
            ["WORKER_QUEUE_NAME"] = "builds.test",
            ["WORKER_PROVIDER_NAME"] = "local",
            ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
            ["WORKER_START_HOOK"] = $"/bin/sh {Script($"touch {hooked}; sleep 2")}",
        };
        await using var queue = new FileJobQueue(Path.Combine(_dir.Path, "state"), "builds.test", TimeSpan.FromSeconds(1), new JobCancellations(), NullLogger.Instance);
        queue.Submit(JobFile.Parse("id: 302\nscript: [\"true\"]", "builds.test"));

        await using var worker = WorkerProcess.Start(env, _dir.Path, "run");
        await worker.UntilAsync(() => File.Exists(hooked), "the start hook runs");
        worker.Signal("TERM");

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(File.Exists(Path.Combine(QueueDir, "10-created.d", "302.json")), "the worker took a job after it was told to stop");
    }

    [Fact]
    public async Task A_failing_hook_is_logged_with_its_output_and_exit_code_and_nothing_else_changes()
    {
        var log = new ListLoggerProvider();

        await new LifecycleHook("start hook", "sh -c echo_boom_and_fail", log.CreateLogger("run")).RunAsync();
        await new LifecycleHook("start hook", $"/bin/sh {Script("echo boom; exit 3")}", log.CreateLogger("run")).RunAsync();
        await new LifecycleHook("stop hook", "/no/such/hook", log.CreateLogger("run")).RunAsync();

        Assert.Contains(log.Lines, l => l.StartsWith("The start hook failed with exit code 127", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.StartsWith("The start hook failed with exit code 3", StringComparison.Ordinal) && l.EndsWith(": boom", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.StartsWith("The stop hook could not be run (/no/such/hook)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_hook_that_hangs_is_stopped_with_what_it_started_at_its_limit()
    {
        var log = new ListLoggerProvider();
        var pidFile = Path.Combine(_dir.Path, "child.pid");
        var hook = new LifecycleHook("start hook", $"/bin/sh {Script($"sleep 300 & echo $! > {pidFile}; wait")}", log.CreateLogger("run"))
        {
            TimeLimit = TimeSpan.FromSeconds(1),
        };

        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        await hook.RunAsync();

        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(20), $"the hook held the worker {elapsed.Elapsed}");
        Assert.Contains(log.Lines, l => l.StartsWith("The start hook ran past 1s and was stopped", StringComparison.Ordinal));
        var child = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        await Eventually.TrueAsync(() => !Directory.Exists($"/proc/{child}"), "the hook's child was left running");
    }

    [Fact]
    public void Travis_workers_hook_settings_are_read_not_named_as_having_no_use()
    {
        var settings = SettingsSource.From(("TRAVIS_WORKER_START_HOOK", "/usr/local/bin/register"), ("STOP_HOOK", "/usr/local/bin/deregister now"));

        Assert.Empty(SettingsCatalog.UnusedVariableWarnings(settings));
        var hooks = LifecycleHookOptions.Load(settings);
        Assert.Equal("/usr/local/bin/register", hooks.StartCommand);
        Assert.Equal("/usr/local/bin/deregister now", hooks.StopCommand);
    }

    private string Script(string body)
    {
        var path = Path.Combine(_dir.Path, $"hook-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, body + "\n");
        return path;
    }
}
