using System.Diagnostics;
using Worker.Core.Jobs;

namespace Worker.Chaos;

/// <summary>What every scenario shares: the suite's broker, a folder for its workers' logs and homes, and the bookkeeping of jobs.</summary>
internal sealed class ChaosContext(ChaosBroker broker, string root)
{
    private static long _lastJobId = JobFile.NewJobId();

    public ChaosBroker Broker { get; } = broker;
    public string Root { get; } = root;

    public static string NewQueue(string what) => $"builds.chaos-{what}-{Guid.NewGuid().ToString("N")[..8]}";

    public string Folder(string name) => Directory.CreateDirectory(Path.Combine(Root, name)).FullName;

    /// <summary><paramref name="count"/> jobs with ids no other job of this run has.</summary>
    public static List<JobPayload> Jobs(int count, string queue, string script = "true") =>
        Enumerable.Range(0, count).Select(_ => JobFile.Parse($"id: {Interlocked.Increment(ref _lastJobId)}\nscript: [\"{script}\"]", queue)).ToList();

    /// <summary>The settings of a worker on the suite's broker, with a home (BASE_DIR) of its host's own.</summary>
    public Dictionary<string, string> AmqpWorker(string queue, string host, Uri? brokerUri = null, params (string Key, string Value)[] settings)
    {
        var env = new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = (brokerUri ?? Broker.Uri).ToString(),
            ["WORKER_QUEUE_NAME"] = queue,
            ["WORKER_PROVIDER_NAME"] = "fake",
            ["WORKER_HOSTNAME"] = host,
            ["WORKER_FLEET"] = "chaos-" + queue[^8..],
            ["WORKER_BASE_DIR"] = Folder(Path.Combine("hosts", queue, host)),
            ["WORKER_POOL_SIZE"] = "4",
            ["WORKER_LOG_FLUSH_INTERVAL"] = "200ms",
            ["WORKER_LOG_LEVEL"] = "information",
        };
        foreach (var (key, value) in settings)
        {
            env["WORKER_" + key] = value;
        }
        return env;
    }

    /// <summary>
    /// Waits until every job has a finish state and the queue holds nothing (or the patience is
    /// gone), then counts: lost (no finish), run twice (a run started after the finish, or two runs
    /// finished), duplicate finish states (two different finishes).
    /// </summary>
    /// <remarks>Waiting stops early when one of <paramref name="workers"/> exits by itself.</remarks>
    public async Task<(int Lost, int RunTwice, int Duplicates)> SettleAsync(StateTally tally, IReadOnlyList<long> ids, string queue, TimeSpan patience,
        IEnumerable<ChaosWorker> workers)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < patience && !workers.Any(w => w.ExitedOnItsOwn))
        {
            if (tally.Finished(ids) == ids.Count && await Broker.MessagesAsync(queue) == 0)
            {
                break;
            }
            await Task.Delay(500);
        }
        await Task.Delay(2000); // a late second run or finish still counts
        var states = ids.Select(tally.Of).ToList();
        return (states.Count(s => s.Finishes.Count == 0),
            states.Count(s => s.StartedAfterFinish || s.Finishes.Count > 1),
            states.Count(s => s.Finishes.Count > 1));
    }

    /// <summary>The checks every scenario ends with: no worker exited on its own, and each answers /readyz with 200 again.</summary>
    public static async Task<List<string>> LivenessAsync(IEnumerable<ChaosWorker> workers, TimeSpan patience)
    {
        var failures = new List<string>();
        foreach (var worker in workers)
        {
            if (worker.ExitedOnItsOwn)
            {
                failures.Add($"{worker.Name} exited: {worker.LogTail(1)}");
                continue;
            }
            var waited = Stopwatch.StartNew();
            while (!await worker.ReadyAsync() && waited.Elapsed < patience)
            {
                await Task.Delay(500);
            }
            if (!await worker.ReadyAsync())
            {
                failures.Add($"{worker.Name}: /readyz is not 200 after {patience.TotalSeconds:0} s");
            }
        }
        return failures;
    }

    public static List<string> Goal(int lost) => lost == 0 ? [] : [$"{lost} job(s) lost"];
}
