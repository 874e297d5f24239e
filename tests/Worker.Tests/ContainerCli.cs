using System.Diagnostics;
using System.Text;

namespace Worker.Tests;

/// <summary>
/// The docker CLI, for the tests that run the worker image as an operator would. The image is
/// <c>WORKER_TEST_WORKER_IMAGE</c> (default <c>worker:local</c>, built by docker/build-worker-image.sh).
/// </summary>
internal static class ContainerCli
{
    public static string WorkerImage => Environment.GetEnvironmentVariable("WORKER_TEST_WORKER_IMAGE") is { Length: > 0 } image
        ? image
        : "worker:local";

    /// <summary>A name no other test run uses, so parallel runs don't collide and cleanup finds exactly ours.</summary>
    public static string UniqueName(string purpose) => $"worker-test-{purpose}-{Guid.NewGuid():N}"[..40];

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("docker did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs docker and fails the test, with docker's own words, unless it exits 0.</summary>
    public static async Task<string> RunCheckedAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await RunAsync(args);
        Assert.True(exit == 0, $"docker {string.Join(' ', args)} exited {exit}:\n{stderr}{stdout}");
        return stdout.Trim();
    }

    /// <summary>Fails (never skips) when Docker or the worker image is missing, saying how to get them.</summary>
    public static async Task RequireWorkerImageAsync()
    {
        var (exit, _, stderr) = await RunAsync("image", "inspect", "--format", "{{.Id}}", WorkerImage);
        Assert.True(exit == 0, $"the worker image {WorkerImage} is missing ({stderr.Trim()}); build it with docker/build-worker-image.sh");
    }

    public static async Task<string> LogsAsync(string container)
    {
        var (_, stdout, stderr) = await RunAsync("logs", container);
        var sb = new StringBuilder(stdout);
        return sb.Append(stderr).ToString();
    }

    public static async Task RemoveAsync(string container) => await RunAsync("rm", "--force", "--volumes", container);
}
