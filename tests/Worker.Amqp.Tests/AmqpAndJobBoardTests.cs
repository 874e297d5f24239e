using Worker.JobBoard.Tests.Fakes;

namespace Worker.Amqp.Tests;

/// <summary>
/// travis-worker's usual pair of queue types, <c>QUEUE_TYPE=amqp,http</c>: one `worker run` takes
/// jobs from the broker and from job-board, runs each once and reports it where it came from.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AmqpAndJobBoardTests(RabbitMqBroker broker) : IClassFixture<RabbitMqBroker>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-amqp-http-").FullName;
    private FakeJobBoardServer _jobBoard = null!;

    public async Task InitializeAsync() => _jobBoard = await FakeJobBoardServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _jobBoard.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public async Task A_travis_worker_env_with_amqp_and_http_runs_the_jobs_of_both_once_each_and_drains_on_sigterm()
    {
        var queue = Broker.NewQueue("amqp-http");
        _jobBoard.Queue = queue;
        // A job-board job popped at the moment a broker job came goes back (state created) and comes again.
        _jobBoard.QueueCreatedJobsAgain = true;
        await using var tap = await ReportingTap.CreateAsync(broker.Uri);
        var env = new Dictionary<string, string>
        {
            ["TRAVIS_WORKER_QUEUE_TYPE"] = "amqp,http",
            ["TRAVIS_WORKER_AMQP_URI"] = broker.Uri.ToString(),
            ["TRAVIS_WORKER_JOB_BOARD_URL"] = _jobBoard.UrlWithCredentials,
            ["TRAVIS_WORKER_TRAVIS_SITE"] = FakeJobBoardServer.Site,
            ["TRAVIS_WORKER_PROVIDER_NAME"] = "local",
            ["TRAVIS_WORKER_QUEUE_NAME"] = queue,
            ["TRAVIS_WORKER_BASE_DIR"] = _dir,
            ["TRAVIS_WORKER_POOL_SIZE"] = "2",
            ["TRAVIS_WORKER_HTTP_POLLING_INTERVAL"] = "500ms",
            ["HTTP_REFRESH_CLAIM_INTERVAL"] = "1s",
            ["TRAVIS_WORKER_LOG_FLUSH_INTERVAL"] = "100ms",
        };
        await using var worker = WorkerProcess.Start(env, _dir, "run");
        // The worker declares the job queue: jobs published before would have nowhere to go.
        await worker.UntilAsync(() => worker.Stderr.Contains("Connected to RabbitMQ", StringComparison.Ordinal), "the worker consumes " + queue);
        var fromBroker = Enumerable.Range(0, 4).Select(i => Broker.Job($"script: [\"echo from the broker {i}\"]", queue)).ToList();
        foreach (var payload in fromBroker)
        {
            await Broker.EnqueueAsync(broker.Uri, queue, payload);
        }
        var fromJobBoard = Enumerable.Range(0, 4).Select(i => _jobBoard.Add(401 + i, $"echo from job-board {i}\n")).ToList();
        await worker.UntilAsync(() => fromJobBoard.All(j => j.StateNames.Contains("passed")), "every job-board job passed");
        await Eventually.TrueAsync(async () =>
        {
            await tap.RefreshAsync();
            return fromBroker.All(p => tap.Of(p.JobId).Any(m => m.State == "passed"));
        }, "every broker job passed", Patience, gaveUp: () => worker.HasExited, explain: () => worker.Stderr);
        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(Patience));

        Assert.Contains($"taking jobs from amqp,http queue {queue}", worker.Stderr);
        foreach (var (job, i) in fromJobBoard.Select((j, i) => (j, i)))
        {
            // Any give-back (created) came before it was received, and it ran once.
            Assert.Equal(["received", "started", "passed"], job.StateNames.SkipWhile(state => state == "created"));
            Assert.Contains($"from job-board {i}", job.Log);
            Assert.Equal(1, job.Deletes);
        }
        foreach (var (payload, i) in fromBroker.Select((p, i) => (p, i)))
        {
            var reported = tap.Of(payload.JobId);
            Assert.Equal(["received", "started", "passed"], reported.Where(m => m.IsState).Select(m => m.State));
            Assert.Contains($"from the broker {i}", string.Concat(reported.Where(m => m.IsLog).Select(m => m.Log)));
        }
        Assert.Equal(0u, await Broker.CountAsync(broker.Uri, queue));
        Assert.True(_jobBoard.Problems.IsEmpty, string.Join("\n", _jobBoard.Problems));
    }
}
