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
}
