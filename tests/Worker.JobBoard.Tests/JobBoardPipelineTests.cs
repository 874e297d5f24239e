using System.Text.Json.Nodes;
using Worker.JobBoard.Tests.Fakes;

namespace Worker.JobBoard.Tests;

/// <summary>
/// Jobs popped from a fake job-board and run through the real pipeline on the local backend: what
/// job-board, travis-hub's state URL and travis-logs' parts URL see, and how the worker rides out
/// their failures.
/// </summary>
public sealed class JobBoardPipelineTests : IAsyncLifetime
{
    private FakeJobBoardServer _jobBoard = null!;

    public async Task InitializeAsync() => _jobBoard = await FakeJobBoardServer.StartAsync();

    public async Task DisposeAsync() => await _jobBoard.DisposeAsync();

    private static Task UntilAsync(Func<bool> condition, string what, WorkerOnJobBoard worker) =>
        Eventually.TrueAsync(condition, what, explain: () => worker.LogText);

    private void NoProblems() => Assert.True(_jobBoard.Problems.IsEmpty, "the fake job-board found: " + string.Join("\n", _jobBoard.Problems));

    [Fact]
    public async Task Popped_job_runs_with_its_own_script_and_job_board_sees_received_started_passed_its_log_and_the_delete()
    {
        var job = _jobBoard.Add(101, "echo hello from job-board\necho the script travis-build made\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => job.StateNames.Contains("passed"), "job 101 passed", worker);
        await worker.DrainAsync();

        Assert.Equal(["received", "started", "passed"], job.StateNames);
        var states = job.States.ToList();
        Assert.Equal([1, 2, 3], states.Select(s => s.Count));
        Assert.Equal(["queued", "received", "started"], states.Select(s => s.Cur));
        Assert.All(states, s => Assert.Equal("2024-05-01T10:00:00Z", (string?)s.Body["queued_at"]));
        Assert.NotNull(states[0].Body["received_at"]);
        Assert.Null(states[0].Body["started_at"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", (string)states[2].Body["finished_at"]!);
        Assert.Contains("hello from job-board\nthe script travis-build made\n", job.Log);
        Assert.Contains("Worker information", job.Log);
        Assert.Equal(1, job.Deletes);
        Assert.True(job.Claims >= 1, "the claim was never refreshed");
        // The final log part, then the delete, then the finish state: the order of travis-worker's finish, the log first.
        Assert.Equal(["pop", "fetch", "state received", "state started", "final log part", "delete", "state passed"], job.Order);
        AssertWholeLog(job);
        NoProblems();
    }

    [Theory]
    [InlineData("exit 1", "failed")]
    [InlineData("exit 3", "errored")]
    public async Task Script_exit_code_decides_the_finish_state(string script, string state)
    {
        var job = _jobBoard.Add(102, script + "\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => job.StateNames.Count == 3, "job 102 finished", worker);

        Assert.Equal(["received", "started", state], job.StateNames);
        Assert.Equal(1, job.Deletes);
        NoProblems();
    }

    [Fact]
    public async Task Pop_answered_with_5xx_or_a_dropped_connection_is_tried_again_and_the_job_still_runs()
    {
        _jobBoard.PopFaults.Enqueue(new FakeJobBoardServer.Fault(500));
        _jobBoard.PopFaults.Enqueue(new FakeJobBoardServer.Fault(Drop: true));
        _jobBoard.PopFaults.Enqueue(new FakeJobBoardServer.Fault(503));
        var job = _jobBoard.Add(103, "echo after the outage\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => job.StateNames.Contains("passed"), "job 103 passed", worker);

        Assert.Contains("popping a job answered 500", worker.LogText);
        Assert.Contains("popping a job answered 503", worker.LogText);
        Assert.Contains("after the outage", job.Log);
        NoProblems();
    }

    [Fact]
    public async Task Worker_started_before_job_board_listens_keeps_popping_and_takes_the_job_once_it_answers()
    {
        var port = Worker.TestSupport.LoopbackPorts.Free();
        await using var worker = WorkerOnJobBoard.Start(_jobBoard,
            url: $"http://{FakeJobBoardServer.User}:{Uri.EscapeDataString(FakeJobBoardServer.Password)}@127.0.0.1:{port}");
        await UntilAsync(() => worker.LogText.Contains("popping a job could not be sent", StringComparison.Ordinal), "a pop was refused", worker);
        Assert.False(worker.Queue.IsConnected);

        await using var late = await FakeJobBoardServer.StartAsync(port);
        var job = late.Add(104, "echo job-board is back\n");

        await UntilAsync(() => job.StateNames.Contains("passed"), "job 104 passed", worker);
        Assert.True(worker.Queue.IsConnected);
        Assert.Contains("job-board is back", job.Log);
        Assert.True(late.Problems.IsEmpty, string.Join("\n", late.Problems));
    }

    [Theory]
    [InlineData(409)]
    [InlineData(404)]
    public async Task Claim_refused_while_the_job_runs_cancels_it(int status)
    {
        var job = _jobBoard.Add(105, "echo running\nsleep 120\necho never\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);
        await UntilAsync(() => job.StateNames.Contains("started") && job.Log.Contains("running", StringComparison.Ordinal), "job 105 runs", worker);

        job.ClaimStatus = status;

        await UntilAsync(() => job.StateNames.Contains("cancelled"), "job 105 cancelled", worker);
        Assert.Equal(["received", "started", "cancelled"], job.StateNames);
        Assert.Contains("Done: Job Cancelled", job.Log);
        Assert.Contains("job-board no longer holds this worker's claim", job.Log);
        Assert.DoesNotContain("never", job.Log);
        AssertWholeLog(job);
        NoProblems();
    }

    [Fact]
    public async Task State_started_answered_409_cancels_the_job_as_another_worker_may_run_it()
    {
        var job = _jobBoard.Add(106, "sleep 120\n");
        job.StateStatuses["started"] = 409;
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => job.StateNames.Contains("cancelled"), "job 106 cancelled", worker);

        Assert.Equal(["received", "cancelled"], job.StateNames);
        Assert.Contains("state started 409", job.Order);
        Assert.Contains("another worker may be running it", job.Log);
        Assert.Equal(1, job.Deletes);
        NoProblems();
    }

    [Fact]
    public async Task Log_parts_refused_with_500s_or_dropped_are_sent_again_in_order_none_lost_and_the_final_part_last()
    {
        foreach (var fault in new[] { new FakeJobBoardServer.Fault(500), new(502), new(Drop: true), new(500), new(503), new(500) })
        {
            _jobBoard.LogFaults.Enqueue(fault);
        }
        var job = _jobBoard.Add(107, "for i in $(seq 1 300); do echo \"line $i of the job's output\"; if [ $((i % 50)) = 0 ]; then sleep 0.3; fi; done\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => job.StateNames.Contains("passed"), "job 107 passed", worker);

        var expected = string.Concat(Enumerable.Range(1, 300).Select(i => $"line {i} of the job's output\n"));
        Assert.Contains(expected, job.Log);
        Assert.True(_jobBoard.LogFaults.IsEmpty, "not every fault was met");
        Assert.Contains("sending them again", worker.LogText);
        AssertWholeLog(job);
        Assert.True(job.Order.IndexOf("final log part") < job.Order.IndexOf("state passed"), string.Join(", ", job.Order));
        NoProblems();
    }

    [Fact]
    public async Task Log_parts_answered_after_the_attempt_timeout_are_sent_again_and_counted_once()
    {
        _jobBoard.LogFaults.Enqueue(new FakeJobBoardServer.Fault(200, Delay: TimeSpan.FromSeconds(3)));
        _jobBoard.LogFaults.Enqueue(new FakeJobBoardServer.Fault(200, Delay: TimeSpan.FromSeconds(1)));
        var job = _jobBoard.Add(108, "echo slow logs\nsleep 1\necho still slow\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => job.StateNames.Contains("passed"), "job 108 passed", worker);

        Assert.Contains("got no answer within 2s", worker.LogText);
        Assert.Contains("slow logs\nstill slow\n", job.Log);
        AssertWholeLog(job);
        NoProblems();
    }

    [Fact]
    public async Task Job_running_through_a_job_board_outage_passes_and_its_finish_whose_answer_was_lost_is_sent_again_identically()
    {
        var job = _jobBoard.Add(109, "for i in $(seq 1 20); do echo \"line $i of the job's output\"; sleep 0.1; done\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);
        await UntilAsync(() => job.StateNames.Contains("started"), "job 109 started", worker);

        // Down while the script runs: claim refreshes and log parts meet 5xx, dropped connections and lost answers.
        _jobBoard.Outage = true;
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        _jobBoard.Outage = false;
        // Down again as the finish arrives: it is handled and its answer lost.
        await _jobBoard.OutageFromNext("state").WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        _jobBoard.Outage = false;

        await UntilAsync(() => job.StateNames.Count(s => s == "passed") == 2, "job 109's finish sent again", worker);
        Assert.True(job.ClaimsFailed > 0, "no claim refresh met the outage");
        Assert.Equal(["received", "started", "passed"], job.DistinctStates.Select(s => s.State));
        Assert.Contains(string.Concat(Enumerable.Range(1, 20).Select(i => $"line {i} of the job's output\n")), job.Log);
        AssertWholeLog(job);
        NoProblems();
    }

    [Fact]
    public async Task Unusable_payload_is_reported_errored_with_its_reason_and_the_next_job_runs()
    {
        var bad = _jobBoard.Add(109, "echo never run\n", new JsonObject { ["job"] = new JsonObject { ["id"] = 109 }, ["timeouts"] = "soon" });
        var good = _jobBoard.Add(110, "echo the next one\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => good.StateNames.Contains("passed"), "job 110 passed", worker);

        Assert.Equal(["errored"], bad.StateNames);
        Assert.Contains("its payload can't be used", bad.Log);
        Assert.Contains("timeouts", bad.Log);
        Assert.DoesNotContain("never run", bad.Log);
        Assert.Equal(1, bad.Deletes);
        Assert.Equal(["pop", "fetch", "final log part", "delete", "state errored"], bad.Order);
        AssertWholeLog(bad);
        NoProblems();
    }

    [Fact]
    public async Task Job_script_that_is_not_base64_errors_the_job()
    {
        var job = _jobBoard.Add(111, "");
        job.EnvelopeOverride = new JsonObject
        {
            ["data"] = job.Data.DeepClone(),
            ["job_script"] = new JsonObject { ["name"] = "main", ["encoding"] = "base64", ["content"] = "not base64 at all!" },
            ["job_state_url"] = $"http://127.0.0.1:{_jobBoard.Port}/hub/jobs/{{job_id}}/state",
            ["log_parts_url"] = $"http://127.0.0.1:{_jobBoard.Port}/logs/log-parts/multi",
            ["jwt"] = job.Jwt,
        }.ToJsonString();
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);

        await UntilAsync(() => job.StateNames.Contains("errored"), "job 111 errored", worker);

        Assert.Contains("not valid base64", job.Log);
        Assert.Equal(1, job.Deletes);
        NoProblems();
    }

    [Fact]
    public async Task Job_popped_as_the_worker_drains_goes_back_as_created_without_running()
    {
        var job = _jobBoard.Add(112, "echo must not run\n");
        _jobBoard.PopFaults.Enqueue(new FakeJobBoardServer.Fault(200, Delay: TimeSpan.FromSeconds(1))); // the pop is answered once the drain began
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);
        await UntilAsync(() => _jobBoard.Requests.Any(r => r.StartsWith("POST /jobs/pop", StringComparison.Ordinal)), "the first pop", worker);

        await worker.DrainAsync();

        Assert.Equal(["created"], job.StateNames);
        Assert.Equal("queued", job.States.Single().Cur);
        Assert.Equal(0, job.Deletes);
        Assert.Empty(job.Parts);
        Assert.Equal(0, worker.Queue.Running);
        NoProblems();
    }

    [Fact]
    public async Task Running_job_of_a_worker_stopped_at_once_goes_back_as_created()
    {
        var job = _jobBoard.Add(113, "echo running\nsleep 120\n");
        await using var worker = WorkerOnJobBoard.Start(_jobBoard);
        await UntilAsync(() => job.StateNames.Contains("started") && job.Log.Contains("running", StringComparison.Ordinal), "job 113 runs", worker);

        worker.Pool.StopNow();
        await worker.DrainAsync();

        Assert.Equal(["received", "started", "created"], job.StateNames);
        Assert.Null(job.States.Last().Body["started_at"]);
        Assert.Equal(0, job.Deletes);
        AssertWholeLog(job);
        NoProblems();
    }

    /// <summary>Parts numbered from 0 without gaps, sent in order, exactly one final part, and it the last one sent and the highest number.</summary>
    private static void AssertWholeLog(FakeJobBoardServer.FakeJob job) => Assert.Null(job.LogProblem());
}
