using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>The host's record of finished jobs survives a restart, stays bounded, and shrugs off a line cut short.</summary>
public sealed class FinishedJobsTests
{
    private static FinishedJob Entry(long id) => new($"m{id}|0|hash", id, "passed", 3, "i-1", null, null, null, DateTimeOffset.UtcNow);

    [Fact]
    public void A_record_read_again_from_its_file_keeps_the_newest_entries_up_to_its_capacity()
    {
        var dir = Directory.CreateTempSubdirectory("finished-jobs-");
        try
        {
            var path = Path.Combine(dir.FullName, "finished", "builds.jsonl");
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
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
