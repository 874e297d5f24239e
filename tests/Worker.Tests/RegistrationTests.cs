using Worker.Commands;
using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Tests;

/// <summary>
/// Every backend and job source in the registration lists reaches every place that names them,
/// through the real `worker` executable: its settings section in `worker config --example`, the
/// allowed values in the error for a bad WORKER_PROVIDER_NAME / WORKER_QUEUE_TYPE, and (for a
/// backend with an inventory) the backends `worker cleanup` accepts.
/// </summary>
public sealed class RegistrationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> BackendNames => [.. Backends.All.Select(b => b.Name)];

    public static TheoryData<string> JobSourceNames => [.. JobSources.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(BackendNames))]
    public async Task Every_backend_has_its_section_in_config_example_and_is_named_where_a_backend_is_chosen(string name)
    {
        var backend = Backends.All.Single(b => b.Name == name);

        var example = await RunAsync([], "config", "--example");
        var badName = await RunAsync(new() { ["WORKER_PROVIDER_NAME"] = "nonesuch" }, "config");
        var badFlag = await RunAsync([], "exec", _dir.Write("job.yml", "script: [\"true\"]"), "--backend", "nonesuch");

        Assert.Equal(0, example.Exit);
        Assert.Contains($"\n## {backend.SettingsTitle}\n", example.Stdout);
        Assert.All(backend.Settings, setting => Assert.Contains($"\n{SettingsSource.Prefix}{setting.Key}=", example.Stdout));
        Assert.Contains($"WORKER_PROVIDER_NAME=local\n", example.Stdout);
        Assert.Equal(CommandErrors.UsageExitCode, badName.Exit);
        Assert.Contains("WORKER_PROVIDER_NAME=nonesuch", badName.Stderr);
        Assert.Contains(name, AllowedPart(badName.Stderr));
        Assert.Equal(CommandErrors.UsageExitCode, badFlag.Exit);
        Assert.Contains("--backend=nonesuch", badFlag.Stderr);
        Assert.Contains(name, AllowedPart(badFlag.Stderr));
    }

    [Theory]
    [MemberData(nameof(BackendNames))]
    public async Task Cleanup_accepts_exactly_the_backends_with_an_inventory(string name)
    {
        var backend = Backends.All.Single(b => b.Name == name);
        var withoutInventory = Backends.All.FirstOrDefault(b => b.CreateInventory is null)
            ?? throw new InvalidOperationException("every backend has an inventory; this test needs one without");

        var refused = await RunAsync(new() { ["WORKER_PROVIDER_NAME"] = withoutInventory.Name }, "cleanup", "--once", "--dry-run");

        Assert.Equal(CommandErrors.UsageExitCode, refused.Exit);
        Assert.Contains("a backend with an inventory for cleanup", refused.Stderr);
        var accepted = AllowedPart(refused.Stderr).Split(':')[1].Split(',', StringSplitOptions.TrimEntries);
        Assert.Equal(backend.CreateInventory is not null, accepted.Contains(name));
    }

    [Theory]
    [MemberData(nameof(JobSourceNames))]
    public async Task Every_job_source_is_an_allowed_queue_type_and_its_settings_are_in_config_example(string name)
    {
        var source = JobSources.All.Single(s => s.Name == name);

        var example = await RunAsync([], "config", "--example");
        var badName = await RunAsync(new() { ["WORKER_QUEUE_TYPE"] = "nonesuch" }, "config");

        Assert.All(source.Settings, setting => Assert.Contains($"\n{SettingsSource.Prefix}{setting.Key}=", example.Stdout));
        Assert.Contains(source.Summary, example.Stdout);
        Assert.Equal(CommandErrors.UsageExitCode, badName.Exit);
        Assert.Contains(name, AllowedPart(badName.Stderr));
    }

    /// <summary>What the one-line error says is allowed: the text after "is not valid:".</summary>
    private static string AllowedPart(string stderr)
    {
        var line = Assert.Single(stderr.Trim().Split('\n'));
        const string marker = "is not valid:";
        Assert.Contains(marker, line);
        return line[(line.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..];
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> env, params string[] args)
    {
        var (exit, stdout, stderr, _) = await WorkerProcess.RunAsync(env, _dir.Path, args);
        return (exit, stdout, stderr);
    }
}
