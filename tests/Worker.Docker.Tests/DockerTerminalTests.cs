namespace Worker.Docker.Tests;

/// <summary>A job's script on a terminal (<c>WORKER_DOCKER_TTY</c>), as travis-worker ran it, on the real engine.</summary>
[Trait("Category", "Integration")]
public sealed class DockerTerminalTests
{
    private const string Probe = "script: [\"[ -t 1 ] && echo on a terminal as $TERM || echo on no terminal\", \"echo to stderr >&2\", \"exit 3\"]";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_a_terminal_the_script_sees_one_its_streams_join_and_its_exit_code_still_counts(bool onStandby)
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { ScriptOnTerminal = true, StandbyCount = onStandby ? 1 : 0 });
        if (onStandby)
        {
            await harness.Backend.Standby!.FillAsync(CancellationToken.None);
        }

        var (job, _) = await harness.RunAsync(Probe);

        Assert.Equal("errored", await job.Outcome); // exit 3: neither passed nor failed, as travis counts it
        Assert.Contains("on a terminal as xterm\r\n", job.Log);
        Assert.Contains("to stderr\r\n", job.Log);
        Assert.Contains("The script exited with code 3", job.Log);
        Assert.Equal(onStandby, job.Log.Contains("Using standby container", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Without_one_the_default_or_without_util_linux_script_in_the_image_the_script_sees_no_terminal_and_lines_end_as_written(bool asked)
    {
        var image = asked ? await DockerEngine.NoScriptImageAsync() : DockerEngine.Image;
        await using var harness = await DockerHarness.CreateAsync(o => o with { ScriptOnTerminal = asked, DefaultImage = image });

        var (job, _) = await harness.RunAsync(Probe);

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("on no terminal\n", job.Log);
        Assert.Contains("to stderr\n", job.Log);
        Assert.DoesNotContain("\r\n", job.Log);
    }
}
