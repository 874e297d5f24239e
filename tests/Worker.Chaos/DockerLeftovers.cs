using System.Diagnostics;

namespace Worker.Chaos;

/// <summary>Containers a scenario's fleet left on the engine once its workers stopped and `worker cleanup --once` ran.</summary>
internal static class DockerLeftovers
{
    /// <returns>The failures (containers cleanup would not delete), and how many it keeps until their deadline.</returns>
    public static async Task<(List<string> Failures, int KeptUntilDeadline)> AfterCleanupAsync(IEnumerable<ChaosWorker> workers, Dictionary<string, string> env, string logs, string? dockerHost = null)
    {
        foreach (var worker in workers)
        {
            await worker.StopAsync(TimeSpan.FromSeconds(60));
        }
        var fleet = env["WORKER_FLEET"];
        var before = await ListAsync(fleet, dockerHost);
        var cleanup = await RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "worker.dll"), "cleanup", "--once"], env);
        await File.WriteAllTextAsync(Path.Combine(logs, "cleanup.log"), cleanup.Output);
        var after = await ListAsync(fleet, dockerHost);
        // Cleanup keeps a container whose deadline label lies ahead (its job may still run) and deletes it
        // once that has passed: such a one is left for now, not for good. Any other is a failure.
        var untilDeadline = after.Where(name => cleanup.Output.Contains($"Keeping docker machine {name} (", StringComparison.Ordinal)
            && cleanup.Output.Split('\n').Any(l => l.Contains(name, StringComparison.Ordinal) && l.Contains("its job may still be running (deadline", StringComparison.Ordinal))).ToList();
        var forGood = after.Except(untilDeadline).ToList();
        Console.WriteLine($"  containers of fleet {fleet}: {before.Count} after the workers stopped, {after.Count} after worker cleanup" +
            (untilDeadline.Count > 0 ? $", {untilDeadline.Count} of them kept by cleanup until their deadline (state created: {string.Join(", ", untilDeadline)})" : ""));
        return (forGood.Count == 0 ? [] : [$"{forGood.Count} container(s) of fleet {fleet} left after worker cleanup: {string.Join(", ", forGood)}"], untilDeadline.Count);
    }

    private static async Task<List<string>> ListAsync(string fleet, string? dockerHost)
    {
        List<string> args = dockerHost is null ? [] : ["-H", dockerHost];
        var listed = await RunAsync("docker", [.. args, "ps", "-a", "--filter", $"label=worker-fleet={fleet}", "--format", "{{.Names}}"], []);
        return [.. listed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
    }

    public static async Task<(int Exit, string Output)> RunAsync(string file, IEnumerable<string> args, Dictionary<string, string> env)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in env)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
