using System.Diagnostics;

namespace Worker.Chaos;

/// <summary>Containers a scenario's fleet left on the engine once its workers stopped and `worker cleanup --once` ran.</summary>
internal static class DockerLeftovers
{
    public static async Task<List<string>> AfterCleanupAsync(IEnumerable<ChaosWorker> workers, Dictionary<string, string> env, string logs, string? dockerHost = null)
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
        Console.WriteLine($"  containers of fleet {fleet}: {before.Count} after the workers stopped, {after.Count} after worker cleanup");
        return after.Count == 0 ? [] : [$"{after.Count} container(s) of fleet {fleet} left after worker cleanup: {string.Join(", ", after)}"];
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
