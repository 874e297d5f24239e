using System.Diagnostics;
using System.Globalization;
using Worker.JobBoard.Tests.Fakes;

namespace Worker.Chaos.Scenarios;

/// <summary>
/// job-board (the http job source) goes away mid-run: two `worker run` hosts take jobs from the job-board
/// tests' fake (local backend) as they arrive and, once a quarter of them are done, every endpoint (pop,
/// fetch, claim, state PATCH, log parts, delete) answers 5xx or drops the connection for 10 s, and some
/// writes are handled and their answer lost (the state update the outage begins with among them). The
/// full run has three such outages, at a quarter, half and three quarters done. Counted on the fake: a
/// job is lost without a final state, run twice when its script ran more than once (each run appends to
/// a file of its own) or it has two different started updates, and a duplicate when it has two
/// different final states (an identical copy of a PATCH sent again after its answer was lost counts
/// once, as the suite counts hub's AMQP updates; whether travis-hub drops such a copy is not checked). Every job must pass (a claim refresh
/// answered 5xx must not cancel it) and its log arrive whole, the final part last.
/// </summary>
internal sealed class JobBoardOutage : IScenario
{
    private const int Lines = 10;
    private static readonly TimeSpan ArrivalGap = TimeSpan.FromMilliseconds(300);

    public string Name => "job-board outage mid-run";

    public async Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort)
    {
        var count = isShort ? 40 : 160;
        var outage = TimeSpan.FromSeconds(10);
        var name = "jobboard-" + Guid.NewGuid().ToString("N")[..6];
        var logs = context.Folder("logs/" + name);
        var runs = context.Folder(name + "/runs");
        await using var jobBoard = await FakeJobBoardServer.StartAsync();
        var firstId = 1_000_000L + Random.Shared.Next(1_000_000);
        var ids = Enumerable.Range(0, count).Select(i => firstId + i).ToList();
        var jobs = new List<FakeJobBoardServer.FakeJob>();
        var workers = Enumerable.Range(1, 2).Select(h => new ChaosWorker($"host{h}", Env(context, jobBoard, name, h), logs)).ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            workers.ForEach(w => w.Start());
            // Jobs arrive over time, a little slower than the 10 processors take them, so some processors are popping when job-board goes.
            var arriving = Task.Run(async () =>
            {
                foreach (var id in ids)
                {
                    lock (jobs)
                    {
                        jobs.Add(jobBoard.Add(id, Script(id, runs)));
                    }
                    await Task.Delay(ArrivalGap);
                }
            });
            List<FakeJobBoardServer.FakeJob> Jobs()
            {
                lock (jobs)
                {
                    return [.. jobs];
                }
            }
            var outages = new List<string>();
            for (var i = 0; i < Beginnings(isShort).Length; i++)
            {
                // Mid-run: a share of the jobs done and most processors inside a job, writing its log.
                var done = count * (i + 1) / 4;
                while ((Jobs().Count(Finished) < done || Jobs().Count(Running) < 4) && clock.Elapsed < TimeSpan.FromMinutes(3))
                {
                    await Task.Delay(100);
                }
                var (endpoint, what) = Beginnings(isShort)[i];
                var begun = jobBoard.OutageFromNext(endpoint);
                await Task.WhenAny(begun, Task.Delay(TimeSpan.FromSeconds(10)));
                jobBoard.Outage = true;
                outages.Add($"{(begun.IsCompleted ? what : "at once (no " + endpoint + " request came)")} with {Jobs().Count(Finished)} of {count} jobs done");
                await Task.Delay(outage);
                jobBoard.Outage = false;
            }
            await arriving;
            var patience = Stopwatch.StartNew();
            while (jobs.Count(Finished) < count && patience.Elapsed < TimeSpan.FromMinutes(isShort ? 1 : 3) && !workers.Any(w => w.ExitedOnItsOwn))
            {
                await Task.Delay(200);
            }
            await Task.Delay(2000); // a late second run or finish still counts
            var lost = jobs.Count(j => !Finished(j));
            var twice = jobs.Count(j => Runs(runs, j.Id) > 1 || j.DistinctStates.Count(s => s.State == "started") > 1);
            var duplicates = jobs.Count(j => j.DistinctStates.Count(s => IsFinal(s.State)) > 1);
            var failures = ChaosContext.Goal(lost);
            failures.AddRange(Check(jobs, runs, jobBoard, isShort));
            failures.AddRange(await ChaosContext.LivenessAsync(workers, TimeSpan.FromSeconds(30)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {outages.Count} outage(s) of {outage.TotalSeconds:0} s, beginning {string.Join("; ", outages)}. They met {Describe(jobBoard)}. {jobs.Sum(j => j.ClaimsFailed)} claim refreshes refused in {jobs.Count(j => j.ClaimsFailed > 0)} jobs (none may cancel one); {jobs.Sum(j => j.States.Count - j.DistinctStates.Count)} state PATCH(es) received again identically after a lost answer ({jobs.Sum(j => j.States.Count(s => IsFinal(s.State)) - j.DistinctStates.Count(s => IsFinal(s.State)))} of them final), counted once"));
            return new ScenarioResult(outages.Count == 1 ? Name : $"{Name} ({outages.Count}x)", count, lost, twice, duplicates, clock.Elapsed, failures);
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Where each outage begins: with a state update in flight (its answer lost); in the full run also
    /// with a fetch (job-board just handed out the job) and with a delete (a job just finished its log).
    /// </summary>
    private static (string Endpoint, string What)[] Beginnings(bool isShort) => isShort
        ? [("state", "as a state update arrived")]
        : [("state", "as a state update arrived"), ("fetch", "as a popped job was fetched"), ("delete", "as a finished job was deleted")];

    /// <summary>travis-build's script in small: it notes its run, then writes its log lines over 0.5 to 2 s, by its id.</summary>
    private static string Script(long id, string runs) =>
        $"echo run >> '{runs}/{id}'\nfor i in $(seq 1 {Lines}); do echo \"job {id} line $i\"; sleep 0.{((id % 4) + 1) * 50:000}; done\n";

    private static string ExpectedOutput(long id) => string.Concat(Enumerable.Range(1, Lines).Select(i => $"job {id} line {i}\n"));

    private static Dictionary<string, string> Env(ChaosContext context, FakeJobBoardServer jobBoard, string name, int host) => new()
    {
        ["WORKER_QUEUE_TYPE"] = "http",
        ["WORKER_JOB_BOARD_URL"] = jobBoard.UrlWithCredentials,
        ["WORKER_TRAVIS_SITE"] = FakeJobBoardServer.Site,
        ["WORKER_QUEUE_NAME"] = jobBoard.Queue,
        ["WORKER_PROVIDER_NAME"] = "local",
        ["WORKER_HOSTNAME"] = $"chaos-{name}-host{host}",
        ["WORKER_BASE_DIR"] = context.Folder($"{name}/host{host}"),
        ["WORKER_POOL_SIZE"] = "5",
        ["WORKER_HTTP_POLLING_INTERVAL"] = "200ms",
        ["WORKER_HTTP_REFRESH_CLAIM_INTERVAL"] = "1s",
        ["WORKER_LOG_FLUSH_INTERVAL"] = "200ms",
        ["WORKER_LOG_LEVEL"] = "information",
    };

    private static bool IsFinal(string state) => state is "passed" or "failed" or "errored" or "cancelled";

    private static bool Finished(FakeJobBoardServer.FakeJob job) => job.States.Any(s => IsFinal(s.State));

    private static bool Running(FakeJobBoardServer.FakeJob job) => job.States.Any(s => s.State == "started") && !Finished(job) && job.Parts.Count > 1;

    private static int Runs(string runs, long id) => File.Exists(Path.Combine(runs, id.ToString(CultureInfo.InvariantCulture)))
        ? File.ReadAllLines(Path.Combine(runs, id.ToString(CultureInfo.InvariantCulture))).Length
        : 0;

    /// <summary>Every finished job passed, ran once, and its log is whole; the fake found nothing wrong in a request.</summary>
    private static IEnumerable<string> Check(List<FakeJobBoardServer.FakeJob> jobs, string runs, FakeJobBoardServer jobBoard, bool isShort)
    {
        foreach (var job in jobs.Where(Finished))
        {
            var finals = job.DistinctStates.Where(s => IsFinal(s.State)).Select(s => s.State).ToList();
            if (finals.Any(s => s != "passed"))
            {
                yield return $"job {job.Id} ended {string.Join(", ", finals)}: {FirstLine(job.Log, "Done:")}";
            }
            if (Runs(runs, job.Id) != 1)
            {
                yield return $"job {job.Id}'s script ran {Runs(runs, job.Id)} time(s)";
            }
            if (job.LogProblem() is { } problem)
            {
                yield return $"job {job.Id}'s log: {problem}";
            }
            else if (!job.Log.Contains(ExpectedOutput(job.Id), StringComparison.Ordinal))
            {
                yield return $"job {job.Id}'s log misses some of its {Lines} lines";
            }
        }
        foreach (var problem in jobBoard.Problems.Take(5))
        {
            yield return "the fake job-board found: " + problem;
        }
        foreach (var endpoint in new[] { "pop", "claim", "state", "log parts" }.Concat(isShort ? [] : new[] { "fetch", "delete" }))
        {
            if (!jobBoard.OutageFaults.Keys.Any(k => k.Endpoint == endpoint))
            {
                yield return $"the outage met no {endpoint} request";
            }
        }
    }

    private static string FirstLine(string log, string start) =>
        log.Split('\n').FirstOrDefault(l => l.Contains(start, StringComparison.Ordinal)) ?? "";

    /// <summary>Per endpoint, the requests the outages met and how: "pop 12 5xx/3 dropped, fetch none, ...".</summary>
    private static string Describe(FakeJobBoardServer jobBoard) =>
        string.Join(", ", new[] { "pop", "fetch", "claim", "state", "log parts", "delete" }.Select(endpoint =>
        {
            var met = jobBoard.OutageFaults.Where(f => f.Key.Endpoint == endpoint).OrderBy(f => f.Key.Kind, StringComparer.Ordinal).ToList();
            return $"{endpoint} {(met.Count == 0 ? "none" : string.Join("/", met.Select(f => $"{f.Value} {f.Key.Kind}")))}";
        }));
}
