using System.Net;

namespace Worker.Tests;

/// <summary>
/// The worker image on RabbitMQ, as the instance group runs it: the worker container and a broker
/// container share a network the test makes; `worker submit --follow` on this host puts jobs on the
/// queue and prints the log and state that the container reports back. Jobs run with the local
/// backend inside the container.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ContainerAmqpTests(ContainerAmqpBroker broker) : IClassFixture<ContainerAmqpBroker>, IAsyncLifetime
{
    private const string QueueName = "builds.container-amqp";

    private readonly TempDirectory _dir = new();
    private readonly List<string> _containers = [];

    public Task InitializeAsync() => ContainerCli.RequireWorkerImageAsync();

    public async Task DisposeAsync()
    {
        foreach (var container in _containers)
        {
            await ContainerCli.RemoveAsync(container);
        }
        _dir.Dispose();
    }

    private async Task<string> StartWorkerAsync(string queue = QueueName, params string[] env)
    {
        var name = ContainerCli.UniqueName("amqp");
        _containers.Add(name);
        await ContainerCli.RunCheckedAsync(
        [
            "run", "--detach", "--init", "--name", name, "--network", broker.NetworkName,
            "--env", "WORKER_QUEUE_TYPE=amqp",
            "--env", $"WORKER_AMQP_URI={broker.ContainerUri}",
            "--env", $"WORKER_QUEUE_NAME={queue}",
            "--env", "WORKER_POOL_SIZE=2",
            .. env.SelectMany(e => new[] { "--env", e }),
            "--publish", "127.0.0.1::8080",
            ContainerCli.WorkerImage,
        ]);
        await WaitUntilReadyAsync(name);
        return name;
    }

    /// <summary>/readyz is 200 once the container's worker is connected to the broker and its queue exists.</summary>
    private static async Task WaitUntilReadyAsync(string container)
    {
        var port = await ContainerCli.RunCheckedAsync("port", container, "8080/tcp");
        using var client = new HttpClient { BaseAddress = new Uri("http://" + port.Split('\n')[0].Trim()), Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.TrueAsync(() =>
        {
            try
            {
                using var response = client.GetAsync("/readyz").GetAwaiter().GetResult();
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "the container's worker is ready", TimeSpan.FromSeconds(90), explain: () => ContainerCli.LogsAsync(container).GetAwaiter().GetResult());
    }

    private Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)> SubmitAndFollowAsync(string jobYaml) =>
        SubmitAsync(jobYaml, QueueName, "--follow");

    private Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)> SubmitAsync(string jobYaml, string queue, params string[] flags)
    {
        var file = _dir.Write($"job-{Guid.NewGuid():N}.yml", jobYaml);
        return WorkerProcess.RunAsync(new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.HostUri.ToString(),
            ["WORKER_QUEUE_NAME"] = queue,
        }, _dir.Path, ["submit", file, .. flags]);
    }

    [Fact]
    public async Task Jobs_put_on_rabbitmq_run_in_the_worker_container_and_their_logs_and_states_come_back()
    {
        var container = await StartWorkerAsync();

        var passed = await SubmitAndFollowAsync("id: 901\nscript: [\"echo over amqp in $(hostname) as $(id -un)\"]");
        var failed = await SubmitAndFollowAsync("id: 902\nscript: [\"echo about to fail\", \"false\"]");

        var logs = await ContainerCli.LogsAsync(container);
        Assert.True(passed.ExitCode == 0, $"job 901: exit {passed.ExitCode}\n{passed.Stdout}\n{passed.Stderr}\ncontainer:\n{logs}");
        Assert.Contains("over amqp in ", passed.Stdout);
        Assert.Contains(" as worker", passed.Stdout);
        Assert.Contains("Job 901 passed", passed.Stderr);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("about to fail", failed.Stdout);
        Assert.Contains("Job 902 failed", failed.Stderr);
    }

    [Fact]
    public async Task Docker_stop_lets_the_running_job_finish_and_report_before_the_container_exits_0()
    {
        var container = await StartWorkerAsync();
        var following = SubmitAndFollowAsync("id: 903\nscript: [\"sleep 4\", \"echo finished after the stop\"]");
        // Its script, not its logs: the container logs the job's id only at its end, and a timestamp
        // or host name may hold "903" long before (that made this test stop an idle container once).
        await Eventually.TrueAsync(() => RunningJob(container) == 903, "the container runs job 903's script", TimeSpan.FromSeconds(60),
            explain: () => ContainerCli.LogsAsync(container).GetAwaiter().GetResult());

        await ContainerCli.RunCheckedAsync("stop", "--time", "60", container);
        var job = await following;

        var logs = await ContainerCli.LogsAsync(container);
        Assert.Contains("Draining: 1 job(s) running", logs);
        Assert.Equal("0", await ContainerCli.RunCheckedAsync("inspect", "--format", "{{.State.ExitCode}}", container));
        Assert.True(job.ExitCode == 0, $"job 903: exit {job.ExitCode}\n{job.Stdout}\n{job.Stderr}\ncontainer:\n{logs}");
        Assert.Contains("finished after the stop", job.Stdout);
    }

    [Fact]
    public async Task Docker_stop_inside_the_stop_window_requeues_a_long_job_uncounted_and_the_container_exits_0_before_the_kill()
    {
        // As terraform/ runs it: docker stop --time equals WORKER_STOP_WINDOW. SHUTDOWN_TIMEOUT keeps its 10m default,
        // which does not fit: the worker says so at start and still ends its drain inside the window.
        const string queue = "builds.container-stop-window";
        var container = await StartWorkerAsync(queue, "WORKER_STOP_WINDOW=20s");
        var submitted = await SubmitAsync("id: 904\nscript: [\"echo sleeping\", \"sleep 600\"]", queue);
        Assert.True(submitted.ExitCode == 0, submitted.Stderr);
        await Eventually.TrueAsync(() => RunningJob(container) == 904, "the container runs job 904's script", TimeSpan.FromSeconds(60),
            explain: () => ContainerCli.LogsAsync(container).GetAwaiter().GetResult());

        await ContainerCli.RunCheckedAsync("stop", "--time", "20", container);

        var logs = await ContainerCli.LogsAsync(container);
        // 137 would be docker's SIGKILL at the end of the 20 s; 0 is the worker's own exit after its drain.
        Assert.True(await ContainerCli.RunCheckedAsync("inspect", "--format", "{{.State.ExitCode}}", container) == "0", logs);
        Assert.Contains("does not fit WORKER_STOP_WINDOW (20s)", logs);
        var requeued = await TakeOneAsync(queue);
        Assert.True(requeued is not null, "job 904 is not back on its queue:\n" + logs);
        Assert.Contains("\"id\":904", requeued.Value.Body);
        // Republished by the worker with its requeue count, not counted against WORKER_MAX_REQUEUES; `worker submit`
        // sets no count, so the original message redelivered after a killed connection would have none.
        Assert.True(requeued.Value.RequeueCount == 0, $"requeue count {requeued.Value.RequeueCount?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}\n{logs}");
    }

    /// <summary>The job the container's only busy processor runs, once it is running its script.</summary>
    private static long? RunningJob(string container)
    {
        var port = ContainerCli.RunCheckedAsync("port", container, "8080/tcp").GetAwaiter().GetResult();
        using var client = new HttpClient { BaseAddress = new Uri("http://" + port.Split('\n')[0].Trim()), Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            var status = System.Text.Json.Nodes.JsonNode.Parse(client.GetStringAsync("/status").GetAwaiter().GetResult())!;
            return status["processors"]!.AsArray()
                .Where(p => p!["step"]!.GetValue<string>() == Core.Pipeline.JobSteps.RunScript)
                .Select(p => p!["job_id"]!.GetValue<long>())
                .Cast<long?>()
                .FirstOrDefault();
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Takes the next message off <paramref name="queue"/> on this host's side of the broker; null when there is none.</summary>
    private async Task<(string Body, int? RequeueCount)?> TakeOneAsync(string queue)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = broker.HostUri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var message = await channel.BasicGetAsync(queue, autoAck: true);
        if (message is null)
        {
            return null;
        }
        var count = message.BasicProperties.Headers?.TryGetValue("x-requeue-count", out var value) == true ? Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null;
        return (System.Text.Encoding.UTF8.GetString(message.Body.Span), count);
    }
}
