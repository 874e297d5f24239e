using System.Collections.Concurrent;
using Worker.Core.Jobs;
using Worker.Core.Logs;

namespace Worker.Core.Tests;

public sealed class LogPartBatcherTests
{
    /// <summary>Holds the first part with content until released, honouring its token as a real sink does.</summary>
    private sealed class SlowFirstPartSink : ILogPartSink
    {
        private int _held;

        public TaskCompletionSource Writing { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<LogPart> Parts { get; } = new();

        public async ValueTask WritePartAsync(LogPart part, CancellationToken ct)
        {
            if (part.Content.Length > 0 && Interlocked.Exchange(ref _held, 1) == 0)
            {
                Writing.TrySetResult();
                await Release.Task.WaitAsync(ct);
            }
            Parts.Enqueue(part);
        }
    }

    [Fact]
    public async Task Closing_while_a_timed_flush_is_being_written_loses_nothing()
    {
        var sink = new SlowFirstPartSink();
        await using var batcher = new LogPartBatcher(sink, 7, 1000, TimeSpan.FromMilliseconds(10));
        await batcher.AppendAsync("the last words", CancellationToken.None);
        await sink.Writing.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var closing = batcher.CloseAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        sink.Release.TrySetResult();
        await closing;

        Assert.Equal("the last words", string.Concat(sink.Parts.Select(p => p.Content)));
        Assert.Equal([0, 1], sink.Parts.Select(p => p.Number));
        Assert.True(sink.Parts.Last().Final);
    }

    [Fact]
    public async Task Output_larger_than_a_part_is_split_into_full_parts_at_once()
    {
        var sink = new RecordingPartSink();
        await using var batcher = new LogPartBatcher(sink, 7, 10, TimeSpan.FromHours(1));
        await batcher.AppendAsync(new string('a', 25), CancellationToken.None);

        Assert.Equal([0, 1], sink.Parts.Select(p => p.Number));
        Assert.All(sink.Parts, p => Assert.Equal(10, p.Content.Length));
        await batcher.CloseAsync(CancellationToken.None);
        var last = sink.Parts.Last();
        Assert.Equal(2, last.Number);
        Assert.True(last.Final);
        Assert.Equal("aaaaa", last.Content);
        Assert.All(sink.Parts, p => Assert.Equal(7, p.JobId));
    }

    [Fact]
    public async Task Small_output_is_sent_when_the_flush_interval_passes()
    {
        var sink = new RecordingPartSink();
        await using var batcher = new LogPartBatcher(sink, 1, 1000, TimeSpan.FromMilliseconds(50));
        await batcher.AppendAsync("hello", CancellationToken.None);
        await Eventually.TrueAsync(() => !sink.Parts.IsEmpty, "a part was sent");

        var part = Assert.Single(sink.Parts);
        Assert.Equal("hello", part.Content);
        Assert.False(part.Final);
    }

    [Fact]
    public async Task Closing_twice_sends_one_final_part()
    {
        var sink = new RecordingPartSink();
        await using var batcher = new LogPartBatcher(sink, 1, 1000, TimeSpan.FromHours(1));
        await batcher.CloseAsync(CancellationToken.None);
        await batcher.CloseAsync(CancellationToken.None);

        var part = Assert.Single(sink.Parts);
        Assert.True(part.Final);
        Assert.Equal(0, part.Number);
    }

    [Fact]
    public async Task A_log_closed_to_go_on_in_the_next_attempt_sends_its_rest_as_an_ordinary_part_and_no_final_part()
    {
        var sink = new RecordingPartSink();
        await using var batcher = new LogPartBatcher(sink, 1, 1000, TimeSpan.FromHours(1));
        await batcher.AppendAsync("restarted", CancellationToken.None);
        await batcher.CloseAsync(CancellationToken.None, final: false);
        await batcher.CloseAsync(CancellationToken.None, final: false);

        var part = Assert.Single(sink.Parts);
        Assert.Equal((0, "restarted", false), (part.Number, part.Content, part.Final));
    }

    [Fact]
    public async Task A_log_closed_to_go_on_with_nothing_buffered_sends_nothing()
    {
        var sink = new RecordingPartSink();
        await using var batcher = new LogPartBatcher(sink, 1, 1000, TimeSpan.FromHours(1));
        await batcher.CloseAsync(CancellationToken.None, final: false);

        Assert.Empty(sink.Parts);
    }

    [Fact]
    public async Task Concurrent_writers_produce_gapless_numbers_and_lose_nothing()
    {
        var sink = new RecordingPartSink();
        await using var batcher = new LogPartBatcher(sink, 1, 64, TimeSpan.FromMilliseconds(1));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                await batcher.AppendAsync($"{w}:{i};", CancellationToken.None);
            }
        })));
        await batcher.CloseAsync(CancellationToken.None);

        var parts = sink.Parts.ToList();
        Assert.Equal(Enumerable.Range(0, parts.Count), parts.Select(p => p.Number));
        var text = string.Concat(parts.Select(p => p.Content));
        for (var w = 0; w < 8; w++)
        {
            for (var i = 0; i < 200; i++)
            {
                Assert.Contains($"{w}:{i};", text);
            }
        }
    }

    [Fact]
    public async Task Surrogate_pairs_are_never_split_between_parts()
    {
        var sink = new RecordingPartSink();
        await using var batcher = new LogPartBatcher(sink, 1, 5, TimeSpan.FromHours(1));
        await batcher.AppendAsync("abcd😀efgh", CancellationToken.None);
        await batcher.CloseAsync(CancellationToken.None);

        Assert.All(sink.Parts, p => Assert.False(p.Content.Length > 0 && char.IsHighSurrogate(p.Content[^1])));
        Assert.Equal("abcd😀efgh", string.Concat(sink.Parts.Select(p => p.Content)));
    }
}
