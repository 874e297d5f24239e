using System.Diagnostics;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>
/// The real <c>worker</c> process as it runs on a GCE VM: <c>GCE_METADATA_HOST</c> points at a fake
/// metadata server, and nothing of this machine's own configuration or Google credentials leaks in.
/// </summary>
internal static class WorkerOnGce
{
    /// <summary>Runs the worker to its end (at most a minute) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(FakeMetadataServer? metadata, IReadOnlyDictionary<string, string> env,
        params string[] arguments)
    {
        var home = Directory.CreateTempSubdirectory("worker-gce-home-");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "worker.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("WORKER_", StringComparison.Ordinal) || k.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal)
                     || k.StartsWith("GOOGLE_", StringComparison.Ordinal) || k.StartsWith("GCE_", StringComparison.Ordinal) || k.StartsWith("CLOUDSDK_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["HOME"] = home.FullName;
        start.Environment["WORKER_BASE_DIR"] = Path.Combine(home.FullName, "state");
        if (metadata is not null)
        {
            start.Environment[GceMetadata.HostVariable] = metadata.HostAndPort;
        }
        foreach (var (key, value) in env)
        {
            start.Environment[key] = value;
        }
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("the worker did not exit within a minute:\n" + await stdout + await stderr);
            }
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }
}
