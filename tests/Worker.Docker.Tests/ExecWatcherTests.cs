using Docker.DotNet;
using Docker.DotNet.Models;

namespace Worker.Docker.Tests;

/// <summary>
/// The script run by exec (<see cref="ScriptArchive.ExecCommand"/>: a standby, or a container whose
/// main process is <c>WORKER_DOCKER_CMD</c>) on a real engine: when its worker lets go of the exec's
/// stdin (killed mid-job), every process of the job is killed, and the container's main process stays.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ExecWatcherTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_script_whose_worker_lets_go_of_the_execs_stdin_is_killed_with_all_it_started(bool terminal)
    {
        await DockerEngine.EnsureAvailableAsync();
        using var client = DockerEngine.Client();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var id = (await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = "worker-exec-watch-test-" + Guid.NewGuid().ToString("N")[..10],
            Image = DockerEngine.Image,
            Entrypoint = ["sleep", "infinity"],
            Cmd = [],
        }, timeout.Token)).ID;
        try
        {
            await client.Containers.StartContainerAsync(id, new ContainerStartParameters(), timeout.Token);
            using (var archive = ScriptArchive.Create("sleep 601 &\necho started\nsleep 602\n"))
            {
                await client.Containers.ExtractArchiveToContainerAsync(id, new CopyToContainerParameters { Path = ScriptArchive.ExtractTo }, archive, timeout.Token);
            }
            var exec = await client.Exec.CreateContainerExecAsync(id, new ContainerExecCreateParameters
            {
                Cmd = terminal ? ScriptArchive.TerminalExecCommand : ScriptArchive.ExecCommand,
                AttachStdin = true,
                AttachStdout = true,
                AttachStderr = true,
            }, timeout.Token);
            var stream = await client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), timeout.Token);
            await StreamOutput.UntilAsync(stream, "started", timeout.Token);
            await Eventually.TrueAsync(async () => (await ProcessesAsync(client, id)).Contains("sleep 602", StringComparison.Ordinal), "the script sleeps");

            stream.Dispose(); // as the connection of a worker killed mid-job goes

            await Eventually.TrueAsync(async () => !(await ProcessesAsync(client, id)).Contains("sleep 60", StringComparison.Ordinal),
                "the script and what it started are killed", patience: TimeSpan.FromSeconds(30));
            Assert.Contains("sleep infinity", await ProcessesAsync(client, id));
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
    }

    /// <summary>The command lines of the container's processes, one a line, as <c>docker top</c> lists them.</summary>
    private static async Task<string> ProcessesAsync(IDockerClient client, string id)
    {
        var top = await client.Containers.ListProcessesAsync(id, new ContainerListProcessesParameters());
        var command = top.Titles.IndexOf("CMD");
        return string.Join('\n', top.Processes.Select(p => p[command]));
    }
}
