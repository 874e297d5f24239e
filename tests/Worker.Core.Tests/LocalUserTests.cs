using System.Diagnostics;
using Worker.Core.Backends;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Logs;

namespace Worker.Core.Tests;

/// <summary>
/// WORKER_LOCAL_USER on the real host: the script runs as that unprivileged user (created here if
/// missing, which needs root, as the worker itself does for this setting) in a working directory
/// it owns, which is removed afterwards.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LocalUserTests : IDisposable
{
    private const string JobUser = "worker-job-test";
    private readonly string _baseDir = Path.Combine(Path.GetTempPath(), "worker-local-user-" + Guid.NewGuid().ToString("N"));

    public LocalUserTests()
    {
        if (Run("id", "-u", JobUser).ExitCode != 0)
        {
            var (exit, output) = Run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", JobUser);
            Assert.True(exit == 0, $"useradd {JobUser} failed (these tests need root): {output}");
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_baseDir))
        {
            Directory.Delete(_baseDir, recursive: true);
        }
    }

    [Fact]
    public async Task The_script_runs_as_the_configured_user_in_a_directory_it_owns_which_is_removed_afterwards()
    {
        var backend = new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, new LocalOptions { RunAsUser = JobUser });
        var instance = (LocalInstance)await backend.StartAsync(new StartAttributes { JobId = 7 }, new Progress<string>(), CancellationToken.None);
        await instance.UploadScriptAsync("""
            echo "user=$(id -un) uid=$(id -u) home=$HOME"
            echo "dir-owner=$(stat -c %U .)"
            touch made-by-the-job && echo "file-owner=$(stat -c %U made-by-the-job)"
            if touch /root/escaped 2>/dev/null; then echo ROOT-WRITABLE; else echo root-is-off-limits; fi
            """, CancellationToken.None);
        var log = new CollectingLog();
        var result = await instance.RunScriptAsync(log, CancellationToken.None);
        var ownerWhileRunning = Run("stat", "-c", "%U", instance.WorkingDirectory).Output.Trim();
        await instance.StopAsync(CancellationToken.None);

        Assert.Equal(RunResult.Exited(0), result);
        Assert.Contains($"user={JobUser} ", log.Text);
        Assert.DoesNotContain("uid=0 ", log.Text);
        Assert.Contains($"home={instance.WorkingDirectory}", log.Text);
        Assert.Contains($"dir-owner={JobUser}", log.Text);
        Assert.Contains($"file-owner={JobUser}", log.Text);
        Assert.Contains("root-is-off-limits", log.Text);
        Assert.Equal(JobUser, ownerWhileRunning);
        Assert.False(Directory.Exists(instance.WorkingDirectory), "the working directory was not removed");
        Assert.False(File.Exists("/root/escaped"));
    }

    [Fact]
    public async Task Cancelling_a_job_of_the_configured_user_kills_its_processes_and_removes_its_directory()
    {
        var backend = new LocalBackend(new WorkerOptions { BaseDirectory = _baseDir }, new LocalOptions { RunAsUser = JobUser });
        var instance = (LocalInstance)await backend.StartAsync(new StartAttributes { JobId = 8 }, new Progress<string>(), CancellationToken.None);
        await instance.UploadScriptAsync("sleep 311 & echo ready; sleep 312", CancellationToken.None);
        var log = new CollectingLog();
        using var cts = new CancellationTokenSource();
        var run = instance.RunScriptAsync(log, cts.Token);
        await Eventually.TrueAsync(() => log.Text.Contains("ready", StringComparison.Ordinal), "the script printed ready",
            gaveUp: () => run.IsCompleted, explain: () => log.Text);
        var session = instance.SessionId;
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await instance.StopAsync(CancellationToken.None);

        Assert.Contains("ready", log.Text);
        Assert.Empty(ProcessSession.Members(session));
        Assert.False(Directory.Exists(instance.WorkingDirectory));
    }

    private static (int ExitCode, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
