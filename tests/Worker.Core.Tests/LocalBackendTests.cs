using Worker.Core.Backends;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Logs;

namespace Worker.Core.Tests;

public sealed class LocalBackendTests : IDisposable
{
    private readonly string _baseDir = Path.Combine(Path.GetTempPath(), "worker-local-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_baseDir))
        {
            Directory.Delete(_baseDir, true);
        }
    }

    private async Task<LocalInstance> StartAsync()
    {
        var backend = new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, new LocalOptions());
        return (LocalInstance)await backend.StartAsync(new StartAttributes { JobId = 1 }, new Progress<string>(), CancellationToken.None);
    }

    [Fact]
    public async Task Script_output_and_exit_code_come_back()
    {
        var instance = await StartAsync();
        await instance.UploadScriptAsync("echo out; echo err >&2; exit 5", CancellationToken.None);
        var log = new CollectingLog();
        var result = await instance.RunScriptAsync(log, CancellationToken.None);
        await instance.StopAsync(CancellationToken.None);

        Assert.Equal(RunResult.Exited(5), result);
        Assert.Contains("out\n", log.Text);
        Assert.Contains("err\n", log.Text);
    }

    [Fact]
    public async Task Each_job_gets_a_fresh_working_directory_that_is_removed_afterwards()
    {
        var first = await StartAsync();
        var second = await StartAsync();
        Assert.NotEqual(first.WorkingDirectory, second.WorkingDirectory);
        await first.UploadScriptAsync("touch made-here; pwd", CancellationToken.None);
        var log = new CollectingLog();
        await first.RunScriptAsync(log, CancellationToken.None);
        Assert.Contains(first.WorkingDirectory, log.Text);

        await first.StopAsync(CancellationToken.None);
        await second.StopAsync(CancellationToken.None);
        Assert.False(Directory.Exists(first.WorkingDirectory));
        Assert.False(Directory.Exists(second.WorkingDirectory));
    }

    [Fact]
    public async Task Travis_workers_scripts_dir_is_where_job_directories_go_unless_the_work_dir_is_set()
    {
        var scripts = Path.Combine(_baseDir, "travis-scripts");
        var work = Path.Combine(_baseDir, "work");

        var travisOnly = LocalOptions.Load(SettingsSource.From(("TRAVIS_WORKER_LOCAL_SCRIPTS_DIR", scripts)));
        var both = LocalOptions.Load(SettingsSource.From(("TRAVIS_WORKER_LOCAL_SCRIPTS_DIR", scripts), ("WORKER_LOCAL_WORK_DIR", work)));

        Assert.Equal(scripts, travisOnly.WorkDirectory);
        Assert.Equal(work, both.WorkDirectory);
        var backend = new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, travisOnly);
        var instance = (LocalInstance)await backend.StartAsync(new StartAttributes { JobId = 1 }, new Progress<string>(), CancellationToken.None);
        Assert.Equal(scripts, Path.GetDirectoryName(instance.WorkingDirectory));
        await instance.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Cancelling_a_run_kills_the_whole_process_tree_including_background_and_regrouped_children()
    {
        var instance = await StartAsync();
        // A background sleep, one in its own process group (setsid is not used: that would leave the session),
        // and a foreground one.
        await instance.UploadScriptAsync("sleep 301 & set -m; sleep 302 & set +m; echo ready; sleep 303", CancellationToken.None);
        var log = new CollectingLog();
        using var cts = new CancellationTokenSource();
        var run = instance.RunScriptAsync(log, cts.Token);
        await Eventually.TrueAsync(() => log.Text.Contains("ready", StringComparison.Ordinal), "the script printed ready");
        var session = instance.SessionId;
        Assert.True(ProcessSession.Members(session).Count >= 3);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await Eventually.TrueAsync(() => ProcessSession.Members(session).Count == 0, "the session is empty");
        await instance.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Background_processes_left_by_a_finished_script_are_killed()
    {
        var instance = await StartAsync();
        await instance.UploadScriptAsync("nohup sleep 304 >/dev/null 2>&1 & echo done", CancellationToken.None);
        var result = await instance.RunScriptAsync(new CollectingLog(), CancellationToken.None);
        Assert.Equal(0, result.ExitCode);

        await Eventually.TrueAsync(() => ProcessSession.Members(instance.SessionId).Count == 0, "the session is empty");
        await instance.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Worker_environment_does_not_leak_into_the_job()
    {
        Environment.SetEnvironmentVariable("WORKER_AMQP_URI", "amqp://user:secret@broker");
        try
        {
            var instance = await StartAsync();
            await instance.UploadScriptAsync("env", CancellationToken.None);
            var log = new CollectingLog();
            await instance.RunScriptAsync(log, CancellationToken.None);
            await instance.StopAsync(CancellationToken.None);
            Assert.DoesNotContain("secret@broker", log.Text);
            Assert.Contains("PATH=", log.Text);
        }
        finally
        {
            Environment.SetEnvironmentVariable("WORKER_AMQP_URI", null);
        }
    }

    [Fact]
    public async Task Whole_job_through_the_pipeline_on_the_local_backend_times_out_with_no_process_left()
    {
        var backend = new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, new LocalOptions());
        var harness = new PipelineHarness(backend);
        var (job, verdict) = await harness.RunAsync("script: [\"sleep 305 & sleep 306\"]\ntimeout: 2s");

        Assert.Equal(124, verdict.ExitCode);
        Assert.Equal(FinishState.Errored, verdict.State);
        await Eventually.TrueAsync(() => !HostProcesses.Running("sleep 305") && !HostProcesses.Running("sleep 306"), "both sleeps are gone");
        Assert.Contains("finished:errored", job.Events);
    }
}
