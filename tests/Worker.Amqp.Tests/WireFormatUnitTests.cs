using System.Runtime.InteropServices;
using System.Text.Json;
using Worker.Core.Jobs;

namespace Worker.Amqp.Tests;

public sealed class WireFormatUnitTests
{
    [Fact]
    public void Log_part_body_is_held_in_an_array_no_larger_than_itself()
    {
        // Bug fixed: bodies were slices of a JSON buffer sized for worst-case escaping, so the outbox
        // held ten times the bytes it counted and the worker's memory grew past its bound.
        var part = new LogPart(42, 3, new string('x', 1653), Final: false);

        var message = WireFormat.LogPart(part, "uuid-1");

        Assert.True(MemoryMarshal.TryGetArray(message.Body, out var segment));
        Assert.Equal(segment.Count, segment.Array!.Length);
        using var body = JsonDocument.Parse(message.Body);
        Assert.Equal(1653, body.RootElement.GetProperty("log").GetString()!.Length);
        Assert.Equal(3, body.RootElement.GetProperty("number").GetInt32());
    }

    [Fact]
    public void Times_are_rfc_3339_utc_whole_seconds()
    {
        var time = new DateTimeOffset(2026, 11, 23, 23, 5, 7, 456, TimeSpan.FromHours(2));

        Assert.Equal("2026-11-23T21:05:07Z", WireFormat.Time(time));
    }

    [Fact]
    public void Log_part_meta_follows_final_as_travis_worker_writes_it_and_a_part_without_one_has_no_meta_key()
    {
        var part = new LogPart(42, 0, "hello\n", Final: false);

        using var withMeta = JsonDocument.Parse(WireFormat.LogPart(part, "uuid-1", meta: new JobStartedMeta("2026-12-05T01:02:03Z", "o/r", "builds.gce", "gce")).Body);
        using var withoutMeta = JsonDocument.Parse(WireFormat.LogPart(part, "uuid-1").Body);

        Assert.Equal("""{"id":42,"log":"hello\n","number":0,"uuid":"uuid-1","final":false,"meta":{"queued_at":"2026-12-05T01:02:03Z","repo":"o/r","queue":"builds.gce","infra":"gce"}}""",
            withMeta.RootElement.GetRawText());
        Assert.False(withoutMeta.RootElement.TryGetProperty("meta", out _));
    }
}
