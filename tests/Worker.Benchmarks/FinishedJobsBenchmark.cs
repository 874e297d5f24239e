using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;

namespace Worker.Benchmarks;

/// <summary>
/// The host's record of finished jobs, written on every AMQP job's path: entries per second at
/// its default capacity, where the file is compacted every 10,000 entries, against the same record
/// that never compacts in the run (its plain appends), and the longest single entry of each (a
/// compaction runs under the record's lock, so every processor finishing a job waits for it).
/// </summary>
public static class FinishedJobsBenchmark
{
    private const int WarmUp = 20_000;
    private const int Entries = 100_000;
    private const int Rounds = 3;

    public static Task<int> RunAsync()
    {
        var dir = Directory.CreateTempSubdirectory("bench-record-");
        try
        {
            var compacting = new List<Run>();
            var appending = new List<Run>();
            for (var round = 0; round < Rounds; round++)
            {
                compacting.Add(Measure(dir.FullName, FinishedJobs.DefaultCapacity));
                appending.Add(Measure(dir.FullName, WarmUp + Entries + 1));
            }
            var withCompactions = compacting.OrderBy(r => r.PerSecond).ElementAt(Rounds / 2);
            var plain = appending.OrderBy(r => r.PerSecond).ElementAt(Rounds / 2);
            var ratio = withCompactions.PerSecond / plain.PerSecond;
            Console.WriteLine($"record, plain appends:     {1e6 / plain.PerSecond,5:F1} us an entry, longest {plain.Longest.TotalMilliseconds,5:F1} ms (median of {Rounds})");
            Console.WriteLine($"record, with compactions:  {1e6 / withCompactions.PerSecond,5:F1} us an entry, longest {withCompactions.Longest.TotalMilliseconds,5:F1} ms " +
                $"(one every {FinishedJobs.DefaultCapacity:N0} entries)");
            Console.WriteLine($"ratio with/without compactions: {ratio:F2} (goal >= 0.50: {(ratio >= 0.5 ? "met" : "missed")})");
            return Task.FromResult(ratio >= 0.5 ? 0 : 1);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private sealed record Run(double PerSecond, TimeSpan Longest);

    private static Run Measure(string dir, int capacity)
    {
        var path = Path.Combine(dir, "finished", $"builds-{Guid.NewGuid():N}.jsonl");
        using var record = new FinishedJobs(path, NullLogger.Instance, capacity);
        var at = DateTimeOffset.UtcNow;
        for (var i = 0; i < WarmUp; i++)
        {
            record.Add(Entry(i, at));
        }
        GC.Collect();
        var longest = TimeSpan.Zero;
        var total = Stopwatch.StartNew();
        for (var i = WarmUp; i < WarmUp + Entries; i++)
        {
            var started = Stopwatch.GetTimestamp();
            record.Add(Entry(i, at));
            var took = Stopwatch.GetElapsedTime(started);
            longest = took > longest ? took : longest;
        }
        return new Run(Entries / total.Elapsed.TotalSeconds, longest);
    }

    /// <summary>An entry shaped as an AMQP job's: the message's key, its states' times and its machine.</summary>
    private static FinishedJob Entry(int i, DateTimeOffset at) =>
        new($"amq.ctag-{i % 32:D2}-bench|{i}|3f1c9a0b7d2e4c61", i, "passed", 3, $"fake-{i}", at, at, at, at);
}
