using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Worker.Docker.Tests;

/// <summary>
/// The main process of a job's container (<see cref="ScriptArchive.RunnerCommand"/>) on a real
/// engine: it runs a script that arrived whole, and none of one whose stdin closed early (a write
/// broken off half-way), which would otherwise run its first half.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ScriptOnStdinTests
{
    private const string Script = "echo first half ran\necho second half ran\n";

    [Fact]
    public async Task A_script_that_arrives_whole_runs_and_its_exit_code_follows_its_output()
    {
        var (stdout, stderr) = await RunRunnerAsync(ScriptArchive.ForStdin(Script + "exit 3\n"));

        Assert.Equal(ScriptArchive.ReceivedMarker + "\nfirst half ran\nsecond half ran\n", stdout);
        Assert.Equal("3", stderr.Trim());
    }

    [Fact]
    public async Task A_script_cut_short_on_stdin_is_not_run_at_all_and_says_how_much_arrived()
    {
        var whole = ScriptArchive.ForStdin(Script);
        var missing = "second half ran\n".Length + 3; // the first line and a bit of "echo" arrive
        var size = Encoding.UTF8.GetByteCount(Script);

        var (stdout, stderr) = await RunRunnerAsync(whole[..^missing]);

        Assert.DoesNotContain("ran", stdout);
        Assert.DoesNotContain(ScriptArchive.ReceivedMarker, stdout);
        Assert.Contains($"the script did not arrive whole ({size - missing} of {size} bytes)", stderr);
    }

    /// <summary>Runs the runner in a container of its own with <paramref name="input"/> on stdin, then stdin closed; its stdout and stderr.</summary>
    private static async Task<(string Stdout, string Stderr)> RunRunnerAsync(byte[] input)
    {
        await DockerEngine.EnsureAvailableAsync();
        using var client = DockerEngine.Client();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = "worker-runner-test-" + Guid.NewGuid().ToString("N")[..10],
            Image = DockerEngine.Image,
            Entrypoint = ScriptArchive.RunnerCommand,
            Cmd = [],
            OpenStdin = true,
            StdinOnce = true,
            AttachStdin = true,
        }, timeout.Token);
        try
        {
            using var output = await client.Containers.AttachContainerAsync(created.ID,
                new ContainerAttachParameters { Stream = true, Stdout = true, Stderr = true }, timeout.Token);
            using (var stdin = await client.Containers.AttachContainerAsync(created.ID, new ContainerAttachParameters { Stream = true, Stdin = true }, timeout.Token))
            {
                await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), timeout.Token);
                await stdin.WriteAsync(input, 0, input.Length, timeout.Token);
            }
            return await output.ReadOutputToEndAsync(timeout.Token);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
    }
}
