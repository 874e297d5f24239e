using Worker.JobBoard.Tests.Fakes;

namespace Worker.JobBoard.Tests;

/// <summary>The built `worker run`, started with a travis-worker deployment's env for its http queue, against the fake job-board.</summary>
public sealed class WorkerRunTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-jobboard-run-").FullName;
    private FakeJobBoardServer _jobBoard = null!;

    public async Task InitializeAsync() => _jobBoard = await FakeJobBoardServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _jobBoard.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    /// <summary>
    /// As a travis-worker env file has it: TRAVIS_WORKER_ names and bare ones. Any TRAVIS_WORKER_
    /// variable makes docker and amqp the defaults, so the provider and queue type are set.
    /// </summary>
    private Dictionary<string, string> TravisEnv() => new()
    {
        ["TRAVIS_WORKER_QUEUE_TYPE"] = "http",
        ["TRAVIS_WORKER_JOB_BOARD_URL"] = _jobBoard.UrlWithCredentials,
        ["TRAVIS_WORKER_PROVIDER_NAME"] = "local",
        ["TRAVIS_WORKER_TRAVIS_SITE"] = FakeJobBoardServer.Site,
        ["TRAVIS_WORKER_QUEUE_NAME"] = "builds.linux",
        ["TRAVIS_WORKER_BASE_DIR"] = _dir,
        ["TRAVIS_WORKER_HTTP_POLLING_INTERVAL"] = "1s",
        ["HTTP_REFRESH_CLAIM_INTERVAL"] = "1s",
        ["TRAVIS_WORKER_POOL_SIZE"] = "2",
    };

    [Fact]
    public async Task Worker_run_with_a_travis_worker_env_takes_jobs_from_job_board_and_drains_on_sigterm()
    {
        var passed = _jobBoard.Add(301, "echo from worker run\n");
        var failed = _jobBoard.Add(302, "echo about to fail\nexit 1\n");
        await using var worker = WorkerProcess.Start(TravisEnv(), _dir, "run");

        await worker.UntilAsync(() => passed.StateNames.Contains("passed") && failed.StateNames.Contains("failed"), "jobs 301 and 302 finished");
        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(["received", "started", "passed"], passed.StateNames);
        Assert.Equal(["received", "started", "failed"], failed.StateNames);
        Assert.Contains("from worker run", passed.Log);
        Assert.Equal(1, passed.Deletes);
        Assert.Contains("taking jobs from http queue builds.linux", worker.Stderr);
        Assert.DoesNotContain("is ignored", worker.Stderr);
        Assert.True(_jobBoard.Problems.IsEmpty, string.Join("\n", _jobBoard.Problems));
    }

    [Theory]
    [InlineData("TRAVIS_WORKER_JOB_BOARD_URL", "worker: TRAVIS_WORKER_JOB_BOARD_URL= is not valid: an absolute URI with scheme http or https, required with TRAVIS_WORKER_QUEUE_TYPE=http")]
    [InlineData("TRAVIS_WORKER_TRAVIS_SITE", "worker: TRAVIS_WORKER_TRAVIS_SITE= is not valid: the site job-board keeps the jobs under (org or com), required with TRAVIS_WORKER_QUEUE_TYPE=http")]
    public async Task Worker_run_on_the_http_queue_without_a_setting_it_needs_refuses_to_start_naming_it(string missing, string line)
    {
        var env = TravisEnv();
        env.Remove(missing);

        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(env, _dir, "run");

        Assert.Equal(2, exit);
        Assert.Equal(line, stderr.Trim());
        Assert.Empty(_jobBoard.Requests);
    }

    [Theory]
    [InlineData("TRAVIS_WORKER_HTTP_POLLING_INTERVAL", "soon", "worker: TRAVIS_WORKER_HTTP_POLLING_INTERVAL=soon is not valid: a positive duration such as 90s, 5m or 1h30m")]
    [InlineData("HTTP_REFRESH_CLAIM_INTERVAL", "0s", "worker: HTTP_REFRESH_CLAIM_INTERVAL=0s is not valid: a positive duration such as 90s, 5m or 1h30m")]
    [InlineData("TRAVIS_WORKER_JOB_BOARD_URL", "job-board.example", "worker: TRAVIS_WORKER_JOB_BOARD_URL=[redacted] is not valid: an absolute URI with scheme http or https")]
    public async Task Worker_run_with_a_bad_http_queue_value_stops_with_one_line_naming_it(string variable, string value, string line)
    {
        var env = TravisEnv();
        env.Remove("HTTP_REFRESH_CLAIM_INTERVAL");
        env[variable] = value;

        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(env, _dir, "run");

        Assert.Equal(2, exit);
        Assert.Equal(line, stderr.Trim());
    }
}
