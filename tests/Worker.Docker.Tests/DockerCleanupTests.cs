using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Commands;
using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Docker.Tests;

/// <summary><c>worker cleanup</c> with WORKER_PROVIDER_NAME=docker, on the real engine and its locally built job image.</summary>
[Trait("Category", "Integration")]
public sealed class DockerCleanupTests : IAsyncLifetime
{
    private const string Image = "worker-job-base:bookworm";
    private readonly string _fleet = "ctest-" + Guid.NewGuid().ToString("N")[..10];
    private readonly string _run = Guid.NewGuid().ToString("N")[..10];
    private readonly ListLoggerProvider _log = new();

    public async Task InitializeAsync()
    {
        var future = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var past = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await RunAsync("live", "sleep 600", Labels(_fleet, "worker-host-1", future));
        await RunAsync("expired", "sleep 600", Labels(_fleet, "worker-host-1", past));
        await RunAsync("stopped", "true", Labels(_fleet, "worker-host-1", future));
        await RunAsync("host-gone", "sleep 600", Labels(_fleet, "gone-host", future));
        await RunAsync("other-fleet", "true", Labels(_fleet + "-other", "worker-host-1", past));
        await RunAsync("foreign", "true", []);
        await WaitUntilExitedAsync("stopped");
    }

    public async Task DisposeAsync()
    {
        var ids = (await DockerAsync("ps", "-aq", "--filter", $"label=worker-test-run={_run}")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0)
        {
            await DockerAsync(["rm", "-f", .. ids]);
        }
    }

    [Fact]
    public async Task Only_stopped_and_expired_containers_of_this_fleet_are_removed()
    {
        var exitCode = await CleanupAsync(dryRun: false);

        Assert.Equal(0, exitCode);
        // host-gone stays: a Docker engine can't tell whether a worker host lives, and not knowing never deletes.
        Assert.Equal(["foreign", "host-gone", "live", "other-fleet"], await RemainingAsync());
        Assert.Contains(_log.Lines, l => l.StartsWith($"Deleted docker machine {Name("expired")}", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.StartsWith($"Deleted docker machine {Name("stopped")}", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.StartsWith($"Keeping docker machine {Name("host-gone")}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_dry_run_removes_no_container()
    {
        var exitCode = await CleanupAsync(dryRun: true);

        Assert.Equal(0, exitCode);
        Assert.Equal(["expired", "foreign", "host-gone", "live", "other-fleet", "stopped"], await RemainingAsync());
        Assert.Equal(2, _log.Lines.Count(l => l.StartsWith("Would delete docker machine", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_container_never_started_is_removed_once_older_than_twice_the_start_and_upload_timeouts_before_its_deadline()
    {
        var future = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await CreateOnlyAsync("never-started", Labels(_fleet, "worker-host-1", future)); // its worker was killed before the start
        await Task.Delay(TimeSpan.FromSeconds(10)); // past twice (2 s + 2 s)
        await CreateOnlyAsync("being-started", Labels(_fleet, "worker-host-1", future)); // its worker starts it now

        var exitCode = await CleanupAsync(dryRun: false, ("WORKER_STARTUP_TIMEOUT", "2s"), ("WORKER_SCRIPT_UPLOAD_TIMEOUT", "2s"));

        Assert.Equal(0, exitCode);
        Assert.Contains(_log.Lines, l => l.StartsWith($"Deleted docker machine {Name("never-started")} (Provisioning): it was made ", StringComparison.Ordinal)
            && l.Contains("ago and never started, and a worker starts its machines within 8s", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.StartsWith($"Keeping docker machine {Name("being-started")}", StringComparison.Ordinal));
        Assert.Contains("being-started", await RemainingAsync());
        Assert.DoesNotContain("never-started", await RemainingAsync());
    }

    private Task<int> CleanupAsync(bool dryRun, params (string Key, string Value)[] extra)
    {
        var settings = SettingsSource.From([("WORKER_PROVIDER_NAME", "docker"), ("WORKER_FLEET", _fleet), ("WORKER_CLEANUP_DELETE_RATE", "100"), .. extra]);
        return CleanupCommand.RunAsync(settings, once: true, dryRun, LoggerFactory.Create(b => b.AddProvider(_log)));
    }

    /// <summary>A container made and never started, as a job's is between its create and its start.</summary>
    private async Task CreateOnlyAsync(string role, Dictionary<string, string> labels)
    {
        var args = new List<string> { "create", "--name", Name(role), "--label", $"worker-test-run={_run}" };
        foreach (var (k, v) in labels)
        {
            args.AddRange(["--label", $"{k}={v}"]);
        }
        args.AddRange([Image, "true"]);
        await DockerAsync([.. args]);
    }

    private string Name(string role) => $"{role}-{_run}";

    private async Task<List<string>> RemainingAsync()
    {
        var names = await DockerAsync("ps", "-a", "--format", "{{.Names}}", "--filter", $"label=worker-test-run={_run}");
        return names.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(n => n[..n.LastIndexOf('-')]).Order(StringComparer.Ordinal).ToList();
    }

    private async Task RunAsync(string role, string command, Dictionary<string, string> labels)
    {
        var args = new List<string> { "run", "-d", "--name", Name(role), "--label", $"worker-test-run={_run}" };
        foreach (var (k, v) in labels)
        {
            args.AddRange(["--label", $"{k}={v}"]);
        }
        args.AddRange([Image, "sh", "-c", command]);
        await DockerAsync([.. args]);
    }

    private Task WaitUntilExitedAsync(string role) =>
        Eventually.TrueAsync(async () => (await DockerAsync("inspect", "-f", "{{.State.Status}}", Name(role))).Trim() == "exited", $"container {Name(role)} exited");

    private static Dictionary<string, string> Labels(string fleet, string host, string deadline) => new()
    {
        [MachineLabels.Fleet] = fleet,
        [MachineLabels.JobId] = "99",
        [MachineLabels.Host] = host,
        [MachineLabels.Deadline] = deadline,
    };

    private static async Task<string> DockerAsync(params string[] args)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0,
            $"docker {string.Join(' ', args)} failed: {error} (the docker daemon must run and {Image} must exist; see tests/start-dockerd.sh)");
        return await output;
    }
}
