using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>The host's record of finished jobs survives a restart, stays bounded, shrugs off a line cut short, and is shared by the workers of one host.</summary>
public sealed class FinishedJobsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("finished-jobs-");

    private string FilePath => Path.Combine(_dir.FullName, "finished", "builds.jsonl");

    public void Dispose() => _dir.Delete(recursive: true);

    private static FinishedJob Entry(long id) => new($"m{id}|0|hash", id, "passed", 3, "i-1", null, null, null, DateTimeOffset.UtcNow);

    [Fact]
    public void A_record_read_again_from_its_file_keeps_the_newest_entries_up_to_its_capacity()
    {
        var path = FilePath;
        var record = new FinishedJobs(path, NullLogger.Instance, capacity: 10);
        for (var id = 1; id <= 35; id++)
        {
            record.Add(Entry(id));
        }
        File.AppendAllText(path, "{\"key\":\"m36|0|ha"); // a crash mid-write

        var again = new FinishedJobs(path, NullLogger.Instance, capacity: 10);

        Assert.Null(again.Find("m25|0|hash"));
        Assert.Equal(Entry(26) with { RecordedAt = default }, again.Find("m26|0|hash")! with { RecordedAt = default });
        Assert.NotNull(again.Find("m35|0|hash"));
        Assert.True(File.ReadAllLines(path).Length <= 21, "the file is compacted once it holds twice the capacity");
    }

    [Fact]
    public void Two_workers_of_one_host_recording_in_turn_lose_none_of_each_others_entries()
    {
        var path = FilePath;
        using var first = new FinishedJobs(path, NullLogger.Instance);
        using var second = new FinishedJobs(path, NullLogger.Instance);
        for (var id = 1; id <= 20; id++)
        {
            (id % 2 == 0 ? second : first).Add(Entry(id));
        }

        using var restarted = new FinishedJobs(path, NullLogger.Instance);

        Assert.All(Enumerable.Range(1, 20), id => Assert.NotNull(restarted.Find($"m{id}|0|hash")));
    }

    [Fact]
    public void Two_workers_of_one_host_recording_at_the_same_time_lose_none_of_each_others_entries()
    {
        var path = FilePath;
        using var first = new FinishedJobs(path, NullLogger.Instance);
        using var second = new FinishedJobs(path, NullLogger.Instance);
        const int each = 3000; // under the capacity: no compaction
        using var together = new Barrier(2);

        var writers = new[] { (Record: first, From: 1), (Record: second, From: each + 1) }.Select(w => new Thread(() =>
        {
            together.SignalAndWait();
            for (var id = w.From; id < w.From + each; id++)
            {
                w.Record.Add(Entry(id));
            }
        })).ToList();
        writers.ForEach(t => t.Start());
        writers.ForEach(t => t.Join());

        var restarted = new FinishedJobs(path, NullLogger.Instance);
        Assert.Equal(2 * each, File.ReadAllLines(path).Length);
        Assert.Equal(0, Enumerable.Range(1, 2 * each).Count(id => restarted.Find($"m{id}|0|hash") is null));
    }

    [Fact]
    public void An_entry_is_in_the_file_as_soon_as_it_is_added_and_a_file_removed_under_the_record_is_written_again_whole()
    {
        var path = FilePath;
        var clock = new FakeTimeProvider();
        using var record = new FinishedJobs(path, NullLogger.Instance, clock: clock);
        record.Add(Entry(1));
        Assert.Single(File.ReadAllLines(path));

        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        record.Add(Entry(2)); // before the record looks again: into the removed file
        clock.Advance(FinishedJobs.RecheckAfter);
        record.Add(Entry(3));

        var again = new FinishedJobs(path, NullLogger.Instance);
        Assert.All(new[] { 1, 2, 3 }, id => Assert.NotNull(again.Find($"m{id}|0|hash")));
        record.Add(Entry(4));
        Assert.Equal(4, File.ReadAllLines(path).Length);
    }

    [Fact]
    public void A_worker_whose_file_another_worker_of_the_host_rewrote_writes_its_entries_again_after_theirs()
    {
        var path = FilePath;
        var clock = new FakeTimeProvider();
        using var compacting = new FinishedJobs(path, NullLogger.Instance, capacity: 2);
        using var other = new FinishedJobs(path, NullLogger.Instance, clock: clock);
        other.Add(Entry(101));
        for (var id = 1; id <= 5; id++)
        {
            compacting.Add(Entry(id)); // the fifth passes twice its capacity: it rewrites the file with its own two
        }
        other.Add(Entry(102)); // before the other looks again: into the file that was replaced
        clock.Advance(FinishedJobs.RecheckAfter);
        other.Add(Entry(103));

        var again = new FinishedJobs(path, NullLogger.Instance);
        Assert.All(new[] { 4, 5, 101, 102, 103 }, id => Assert.NotNull(again.Find($"m{id}|0|hash")));
    }

    [Fact]
    public void A_worker_compacting_the_file_keeps_the_entries_of_another_worker_of_the_host()
    {
        var path = FilePath;
        using var compacting = new FinishedJobs(path, NullLogger.Instance, capacity: 2);
        using var idle = new FinishedJobs(path, NullLogger.Instance);
        idle.Add(Entry(101));
        idle.Add(Entry(102)); // and nothing more: it won't look at the file again for a while
        for (var id = 1; id <= 5; id++)
        {
            compacting.Add(Entry(id)); // the fifth passes twice its capacity: it rewrites the file
        }

        var again = new FinishedJobs(path, NullLogger.Instance);
        Assert.All(new[] { 4, 5, 101, 102 }, id => Assert.NotNull(again.Find($"m{id}|0|hash")));
        Assert.All(new[] { 1, 2, 3 }, id => Assert.Null(again.Find($"m{id}|0|hash"))); // its own oldest, past its capacity
    }

    [Fact]
    public void A_compaction_keeps_the_last_line_of_another_workers_message_in_any_property_order_and_drops_a_line_cut_short()
    {
        var path = FilePath;
        using var compacting = new FinishedJobs(path, NullLogger.Instance, capacity: 2);
        using (var other = new FinishedJobs(path, NullLogger.Instance))
        {
            other.Add(Entry(201));
            other.Add(Entry(201) with { Outcome = "failed" }); // the same message again: its later line is the one that counts
        }
        File.AppendAllText(path, "{\"key\":\"m202|0|ha\n"); // a crash mid-write, then the next line on a line of its own
        File.AppendAllBytes(path, [.. "{\"key\":\"m204|\u00e9"u8[..^1], .. "\",\"jobId\":204}\n"u8]); // cut inside a character: not UTF-8
        File.AppendAllText(path, "{\"outcome\":\"errored\",\"jobId\":203,\"key\":\"m203|0|hash\",\"recordedAt\":\"2026-12-01T00:00:00+00:00\"}\n");
        for (var id = 1; id <= 5; id++)
        {
            compacting.Add(Entry(id)); // the fifth passes twice its capacity: it rewrites the file
        }

        var lines = File.ReadAllLines(path);
        var again = new FinishedJobs(path, NullLogger.Instance);
        Assert.Equal("failed", again.Find("m201|0|hash")?.Outcome);
        Assert.Equal("errored", again.Find("m203|0|hash")?.Outcome);
        Assert.All(new[] { 4, 5 }, id => Assert.NotNull(again.Find($"m{id}|0|hash")));
        Assert.All(new[] { 1, 2, 3 }, id => Assert.Null(again.Find($"m{id}|0|hash")));
        Assert.Equal(4, lines.Length); // 201 once, 203, and its own two; not the cut line
        Assert.All(lines, line => System.Text.Json.JsonDocument.Parse(line).Dispose());
    }
}
