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
        var (stdout, stderr) = await RunRunnerAsync(ScriptArchive.ForStdin(Script + "sleep 1\nexit 3\n"), holdStdin: true);

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

    [Fact]
    public async Task A_script_whose_worker_lets_go_of_stdin_is_killed_and_its_container_ends()
    {
        await DockerEngine.EnsureAvailableAsync();
        using var client = DockerEngine.Client();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var id = await CreateRunnerAsync(client, timeout.Token);
        try
        {
            var stream = await client.Containers.AttachContainerAsync(id,
                new ContainerAttachParameters { Stream = true, Stdin = true, Stdout = true, Stderr = true }, timeout.Token);
            await client.Containers.StartContainerAsync(id, new ContainerStartParameters(), timeout.Token);
            var input = ScriptArchive.ForStdin("sleep 600 &\necho started\nsleep 600\n");
            await stream.WriteAsync(input, 0, input.Length, timeout.Token);
            await StreamOutput.UntilAsync(stream, "started\n", timeout.Token);

            stream.Dispose(); // as the connection of a worker killed mid-job goes

            // Within the minute, where the script would sleep ten.
            await client.Containers.WaitContainerAsync(id, timeout.Token);
            var state = (await client.Containers.InspectContainerAsync(id, CancellationToken.None)).State;
            Assert.False(state!.Running, "the script runs on without its worker");
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
    }

    private static async Task<string> CreateRunnerAsync(IDockerClient client, CancellationToken ct) =>
        (await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = "worker-runner-test-" + Guid.NewGuid().ToString("N")[..10],
            Image = DockerEngine.Image,
            Entrypoint = ScriptArchive.RunnerCommand,
            Cmd = [],
            OpenStdin = true,
            StdinOnce = true,
            AttachStdin = true,
            HostConfig = new HostConfig { Tmpfs = new Dictionary<string, string> { [ScriptArchive.RunnerTmpfs.Key] = ScriptArchive.RunnerTmpfs.Value } },
        }, ct)).ID;

    /// <summary>
    /// Runs the runner in a container of its own with <paramref name="input"/> on stdin; its stdout
    /// and stderr. Stdin is closed once written, or with <paramref name="holdStdin"/> held open until
    /// the output ends, as the worker holds it.
    /// </summary>
    private static async Task<(string Stdout, string Stderr)> RunRunnerAsync(byte[] input, bool holdStdin = false)
    {
        await DockerEngine.EnsureAvailableAsync();
        using var client = DockerEngine.Client();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var id = await CreateRunnerAsync(client, timeout.Token);
        try
        {
            using var output = await client.Containers.AttachContainerAsync(id,
                new ContainerAttachParameters { Stream = true, Stdout = true, Stderr = true }, timeout.Token);
            var stdin = await client.Containers.AttachContainerAsync(id, new ContainerAttachParameters { Stream = true, Stdin = true }, timeout.Token);
            try
            {
                await client.Containers.StartContainerAsync(id, new ContainerStartParameters(), timeout.Token);
                await stdin.WriteAsync(input, 0, input.Length, timeout.Token);
                if (!holdStdin)
                {
                    stdin.Dispose();
                }
                return await output.ReadOutputToEndAsync(timeout.Token);
            }
            finally
            {
                stdin.Dispose();
            }
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
    }
}
