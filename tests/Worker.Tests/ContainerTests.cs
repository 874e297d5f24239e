using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;
using Worker.Core.Queues;

namespace Worker.Tests;

/// <summary>
/// The worker image as an operator runs it: `docker run IMAGE` takes jobs from a mounted file queue and
/// runs them with the local backend inside the container; `docker run IMAGE config` prints its settings;
/// the image's own HEALTHCHECK turns healthy; SIGTERM (docker stop) drains and exits 0.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ContainerTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _containers = [];

    public Task InitializeAsync()
    {
        // The image runs as an unprivileged user, which must be able to write the mounted queue folder.
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_111_111);
        return ContainerCli.RequireWorkerImageAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var container in _containers)
        {
            await ContainerCli.RemoveAsync(container);
        }
        _dir.Dispose();
    }

    private FileJobQueue Queue
    {
        get
        {
            if (field is null)
            {
                field = new(_dir.Path, "builds.container", TimeSpan.FromSeconds(1), new JobCancellations(), NullLogger.Instance);
                foreach (var folder in Directory.GetDirectories(field.Root).Append(field.Root))
                {
                    File.SetUnixFileMode(folder, (UnixFileMode)0b111_111_111);
                }
            }
            return field;
        }
    }

    /// <summary>Drops a job as another user would: the container's worker user must be able to move and rewrite it.</summary>
    private void Drop(string jobYaml) =>
        File.SetUnixFileMode(Queue.Submit(JobFile.Parse(jobYaml, "builds.container")), (UnixFileMode)0b110_110_110);

    private string StateOf(long id)
    {
        var path = Queue.PathOf(FileJobQueue.Finished, $"{id}.state");
        return File.Exists(path) ? File.ReadAllText(path).Trim() : "";
    }

    /// <summary>`docker run -d` of the worker image with the queue folder mounted at its BASE_DIR.</summary>
    private async Task<string> StartWorkerAsync(params string[] extra)
    {
        var name = ContainerCli.UniqueName("file");
        _containers.Add(name);
        string[] args =
        [
            "run", "--detach", "--init", "--name", name,
            "--volume", $"{_dir.Path}:/var/lib/worker",
            "--env", "WORKER_QUEUE_NAME=builds.container",
            "--env", "WORKER_FILE_POLLING_INTERVAL=200ms",
            "--env", "WORKER_POOL_SIZE=2",
            "--publish", "127.0.0.1::8080",
            .. extra,
            ContainerCli.WorkerImage,
        ];
        await ContainerCli.RunCheckedAsync(args);
        return name;
    }

    private static async Task<Uri> PublishedAddressAsync(string container)
    {
        var port = await ContainerCli.RunCheckedAsync("port", container, "8080/tcp");
        return new Uri("http://" + port.Split('\n')[0].Trim());
    }

    private static Task WaitUntil(Func<bool> condition, string what, string container) =>
        Eventually.TrueAsync(condition, what, TimeSpan.FromSeconds(90), explain: () => ContainerCli.LogsAsync(container).GetAwaiter().GetResult());

    [Fact]
    public async Task Jobs_dropped_into_the_mounted_queue_run_inside_the_container_and_finish_with_log_and_state()
    {
        var container = await StartWorkerAsync();

        Drop("id: 801\nscript: [\"echo hello from $(id -un) in the container\", \"test -f /opt/worker/worker\"]");
        Drop("id: 802\nscript: [\"exit 1\"]");
        await WaitUntil(() => StateOf(801) != "" && StateOf(802) != "", "jobs 801 and 802 finished", container);

        Assert.Equal("passed", StateOf(801));
        Assert.Equal("failed", StateOf(802));
        Assert.True(File.Exists(Queue.PathOf(FileJobQueue.Finished, FileJobQueue.FileName(801))));
        Assert.Contains("hello from worker in the container", File.ReadAllText(Queue.PathOf(FileJobQueue.Logs, "801.log")));
        Assert.Empty(Directory.GetFiles(Queue.PathOf(FileJobQueue.Created, ""), "*.json"));
    }

    [Fact]
    public async Task Docker_stop_drains_the_worker_which_finishes_its_job_and_exits_0()
    {
        var container = await StartWorkerAsync();
        Drop("id: 803\nscript: [\"sleep 3\", \"echo slept\"]");
        await WaitUntil(() => File.Exists(Queue.PathOf(FileJobQueue.Started, FileJobQueue.FileName(803))), "job 803 started", container);

        await ContainerCli.RunCheckedAsync("stop", "--time", "60", container);

        Assert.Equal("0", await ContainerCli.RunCheckedAsync("inspect", "--format", "{{.State.ExitCode}}", container));
        Assert.Equal("passed", StateOf(803));
        Assert.Contains("draining", await ContainerCli.LogsAsync(container));
    }

    [Fact]
    public async Task Health_and_status_answer_on_the_published_port()
    {
        var container = await StartWorkerAsync();
        using var client = new HttpClient { BaseAddress = await PublishedAddressAsync(container), Timeout = TimeSpan.FromSeconds(5) };

        HttpStatusCode? health = null;
        await WaitUntil(() =>
        {
            try
            {
                using var response = client.GetAsync("/healthz").GetAwaiter().GetResult();
                health = response.StatusCode;
                return true;
            }
            catch (HttpRequestException)
            {
                return false; // not listening yet
            }
        }, "/healthz answers", container);
        var status = JsonNode.Parse(await client.GetStringAsync("/status"))!;

        Assert.Equal(HttpStatusCode.OK, health);
        Assert.Equal(2, status["pool_size"]!.GetValue<int>());
        Assert.Equal("builds.container", status["queue"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(":8080", "healthy")]
    [InlineData(":9090", "healthy")]
    [InlineData("", "unhealthy")] // the health server is off, so there is nothing to answer /healthz
    public async Task The_images_own_healthcheck_asks_healthz_on_the_configured_port(string httpAddr, string verdict)
    {
        // Only the timing is shortened; the check itself is the image's HEALTHCHECK command.
        var container = await StartWorkerAsync("--env", $"WORKER_HTTP_ADDR={httpAddr}",
            "--health-interval", "1s", "--health-retries", "2", "--health-start-period", "1s");

        string? health = null;
        await WaitUntil(() =>
        {
            health = ContainerCli.RunAsync("inspect", "--format", "{{.State.Health.Status}}", container).GetAwaiter().GetResult().Stdout.Trim();
            return health is "healthy" or "unhealthy";
        }, "the health check has a verdict", container);

        Assert.Equal(verdict, health);
    }

    [Fact]
    public async Task Config_verb_prints_the_effective_configuration_with_secrets_redacted()
    {
        var (exit, stdout, stderr) = await ContainerCli.RunAsync("run", "--rm", "--env", "WORKER_POOL_SIZE=7",
            "--env", "WORKER_HTTP_AUTH_TOKEN=container-s3cret", ContainerCli.WorkerImage, "config");

        Assert.True(exit == 0, stderr);
        Assert.Contains("WORKER_POOL_SIZE=7\n", stdout);
        Assert.Contains("WORKER_HTTP_ADDR=:8080\n", stdout);
        Assert.Contains("WORKER_BASE_DIR=/var/lib/worker\n", stdout);
        Assert.Contains("WORKER_HTTP_AUTH_TOKEN=[redacted]\n", stdout);
        Assert.DoesNotContain("container-s3cret", stdout);
    }

    [Fact]
    public async Task The_cleanup_sidecar_runs_from_the_same_image()
    {
        // The sidecar of a Docker-backend host: the engine's socket, readable by the image's unprivileged user.
        var socketGroup = await ContainerCli.RunCheckedAsync("run", "--rm", "--volume", "/var/run/docker.sock:/var/run/docker.sock",
            "--entrypoint", "stat", ContainerCli.WorkerImage, "--format", "%g", "/var/run/docker.sock");
        var fleet = ContainerCli.UniqueName("fleet")[..30];

        var (exit, stdout, stderr) = await ContainerCli.RunAsync("run", "--rm", "--no-healthcheck",
            "--volume", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", socketGroup,
            "--env", "WORKER_PROVIDER_NAME=docker", "--env", $"WORKER_FLEET={fleet}",
            ContainerCli.WorkerImage, "cleanup", "--once", "--dry-run");

        Assert.True(exit == 0, $"worker cleanup exited {exit}:\n{stderr}{stdout}");
        Assert.Contains($"Cleanup of fleet {fleet} on docker (dry run", stderr + stdout);
    }

    [Fact]
    public async Task A_bad_setting_stops_the_container_with_exit_code_2_and_one_line()
    {
        var (exit, _, stderr) = await ContainerCli.RunAsync("run", "--rm", "--env", "WORKER_MAX_LIFETIME=forever",
            ContainerCli.WorkerImage);

        Assert.Equal(2, exit);
        Assert.Equal("worker: WORKER_MAX_LIFETIME=forever is not valid: a duration such as 90s, 5m or 1h30m (0 turns it off)", stderr.Trim());
    }

    [Fact]
    public async Task The_image_runs_as_an_unprivileged_user_with_worker_run_as_its_default_command()
    {
        var config = await ContainerCli.RunCheckedAsync("image", "inspect", "--format",
            "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}", ContainerCli.WorkerImage);
        var uid = await ContainerCli.RunCheckedAsync("run", "--rm", "--entrypoint", "id", ContainerCli.WorkerImage, "-u");

        Assert.Equal("worker [\"worker\"] [\"run\"]", config);
        Assert.NotEqual("0", uid);
        Assert.Equal(10001, int.Parse(uid, CultureInfo.InvariantCulture));
    }
}
