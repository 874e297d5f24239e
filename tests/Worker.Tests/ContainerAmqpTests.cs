using System.Net;
using Worker.TestSupport;

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

    private async Task<string> StartWorkerAsync()
    {
        var name = ContainerCli.UniqueName("amqp");
        _containers.Add(name);
        await ContainerCli.RunCheckedAsync(
            "run", "--detach", "--init", "--name", name, "--network", broker.NetworkName,
            "--env", "WORKER_QUEUE_TYPE=amqp",
            "--env", $"WORKER_AMQP_URI={broker.ContainerUri}",
            "--env", $"WORKER_QUEUE_NAME={QueueName}",
            "--env", "WORKER_POOL_SIZE=2",
            "--publish", "127.0.0.1::8080",
            ContainerCli.WorkerImage);
        await WaitUntilReadyAsync(name);
        return name;
    }

    /// <summary>/readyz is 200 once the container's worker is connected to the broker and its queue exists.</summary>
    private static async Task WaitUntilReadyAsync(string container)
    {
        var port = await ContainerCli.RunCheckedAsync("port", container, "8080/tcp");
        using var client = new HttpClient { BaseAddress = new Uri("http://" + port.Split('\n')[0].Trim()), Timeout = TimeSpan.FromSeconds(5) };
        await HttpHarness.WaitUntilAsync(() =>
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

    private Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)> SubmitAndFollowAsync(string jobYaml)
    {
        var file = _dir.Write($"job-{Guid.NewGuid():N}.yml", jobYaml);
        return WorkerProcess.RunAsync(new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.HostUri.ToString(),
            ["WORKER_QUEUE_NAME"] = QueueName,
        }, _dir.Path, "submit", file, "--follow");
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
        await HttpHarness.WaitUntilAsync(() => ContainerCli.LogsAsync(container).GetAwaiter().GetResult().Contains("903", StringComparison.Ordinal),
            "the container took job 903", TimeSpan.FromSeconds(60));

        await ContainerCli.RunCheckedAsync("stop", "--time", "60", container);
        var job = await following;

        Assert.Equal("0", await ContainerCli.RunCheckedAsync("inspect", "--format", "{{.State.ExitCode}}", container));
        Assert.True(job.ExitCode == 0, $"job 903: exit {job.ExitCode}\n{job.Stdout}\n{job.Stderr}");
        Assert.Contains("finished after the stop", job.Stdout);
    }
}
