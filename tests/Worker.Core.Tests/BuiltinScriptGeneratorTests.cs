using System.Diagnostics;
using Worker.Core.Jobs;
using Worker.Core.Scripts;

namespace Worker.Core.Tests;

/// <summary>The generated script is run by a real bash, so these tests check what users see.</summary>
public sealed class BuiltinScriptGeneratorTests
{
    private static async Task<(int ExitCode, string Output)> RunAsync(string jobYaml)
    {
        var script = BuiltinScriptGenerator.Generate(JobFile.Parse(jobYaml, "q"));
        var dir = Directory.CreateTempSubdirectory("script-test-");
        try
        {
            var path = Path.Combine(dir.FullName, "build.sh");
            await File.WriteAllTextAsync(path, script);
            var start = new ProcessStartInfo("bash", [path]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir.FullName };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public async Task Passing_script_exits_0_and_runs_every_phase_in_order()
    {
        var (code, output) = await RunAsync("before_script: [echo B]\nscript: [echo S1, echo S2]\nafter_script: [echo A]");
        Assert.Equal(0, code);
        var b = output.IndexOf("\nB\n", StringComparison.Ordinal);
        var s2 = output.IndexOf("\nS2\n", StringComparison.Ordinal);
        var a = output.IndexOf("\nA\n", StringComparison.Ordinal);
        Assert.True(b >= 0 && b < s2 && s2 < a, output);
        Assert.Contains("travis_fold:start:script", output);
        Assert.Contains("Done. Your build exited with 0.", output);
    }

    [Fact]
    public async Task Script_stops_at_its_first_failing_command_and_the_job_fails()
    {
        var (code, output) = await RunAsync("script: [echo one, \"false\", echo never]\nafter_script: [echo cleanup]");
        Assert.Equal(1, code);
        Assert.DoesNotContain("\nnever\n", output);
        Assert.Contains("The command \"false\" exited with 1.", output);
        Assert.Contains("\ncleanup\n", output);
    }

    [Fact]
    public async Task Failing_before_script_skips_the_script_but_not_after_script()
    {
        var (code, output) = await RunAsync("before_script: [\"exit_code_7() { return 7; }; exit_code_7\"]\nscript: [echo never]\nafter_script: [echo cleanup]");
        Assert.Equal(1, code);
        Assert.DoesNotContain("\nnever\n", output);
        Assert.Contains("\ncleanup\n", output);
    }

    [Fact]
    public async Task Explicit_exit_code_is_the_job_result_and_after_script_still_runs()
    {
        var (code, output) = await RunAsync("script: [echo x, exit 3]\nafter_script: [echo cleanup]");
        Assert.Equal(3, code);
        Assert.Contains("\ncleanup\n", output);
    }

    [Fact]
    public async Task Failing_after_script_does_not_change_the_result()
    {
        var (code, _) = await RunAsync("script: [\"true\"]\nafter_script: [\"false\", echo still]");
        Assert.Equal(0, code);
    }

    [Fact]
    public async Task Cd_and_export_carry_over_between_commands()
    {
        var (code, output) = await RunAsync("script: [\"mkdir sub && cd sub\", \"export X=42\", \"echo $X in $(basename $PWD)\"]");
        Assert.Equal(0, code);
        Assert.Contains("42 in sub", output);
    }

    [Fact]
    public async Task Env_and_secrets_are_exported_but_secret_values_are_not_echoed()
    {
        var (code, output) = await RunAsync("env: { GREETING: \"it's here\" }\nsecrets: { TOKEN: abc123 }\nscript: [\"test \\\"$TOKEN\\\" = abc123\", \"echo $GREETING\"]");
        Assert.Equal(0, code);
        Assert.Contains("it's here", output);
        Assert.Contains("export TOKEN=[secure]", output);
        Assert.DoesNotContain("export TOKEN=abc123", output);
    }

    [Fact]
    public void Invalid_env_name_is_a_generation_error()
    {
        Assert.Throws<ScriptGenerationException>(() => BuiltinScriptGenerator.Generate(JobFile.Parse("env: { \"A-B\": x }\nscript: [\"true\"]", "q")));
    }
}
