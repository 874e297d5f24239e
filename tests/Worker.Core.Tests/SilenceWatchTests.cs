using Microsoft.Extensions.Time.Testing;
using Worker.Core.Logs;
using Worker.Core.Pipeline;

namespace Worker.Core.Tests;

public sealed class SilenceWatchTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    private readonly FakeTimeProvider _clock = new();

    private JobLogWriter Log() => new(new RecordingPartSink(), 1, [], 1 << 20, 1 << 16, TimeSpan.FromHours(1), _clock);

    [Fact]
    public async Task A_log_silent_for_the_limit_fires_the_watch_and_not_a_moment_before()
    {
        await using var log = Log();
        using var watch = new SilenceWatch(log, Limit, _clock);

        _clock.Advance(Limit - TimeSpan.FromSeconds(1));
        Assert.False(watch.Fired);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(watch.Fired);
        Assert.True(watch.Token.IsCancellationRequested);
    }

    [Fact]
    public async Task Output_starts_the_silence_over()
    {
        await using var log = Log();
        using var watch = new SilenceWatch(log, Limit, _clock);

        _clock.Advance(TimeSpan.FromMinutes(9));
        await log.WriteAsync("still here\n");
        _clock.Advance(TimeSpan.FromMinutes(9)); // 18 minutes since the start, 9 since the output
        Assert.False(watch.Fired);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True(watch.Fired);
    }

    [Fact]
    public async Task A_disposed_watch_never_fires()
    {
        await using var log = Log();
        var watch = new SilenceWatch(log, Limit, _clock);

        watch.Dispose();
        _clock.Advance(Limit * 2);

        Assert.False(watch.Fired);
    }

    [Fact]
    public async Task A_limit_shorter_than_the_shortest_wait_fires_after_that_wait()
    {
        await using var log = Log();
        using var watch = new SilenceWatch(log, TimeSpan.FromMilliseconds(1), _clock);

        _clock.Advance(TimeSpan.FromMilliseconds(49));
        Assert.False(watch.Fired);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(watch.Fired);
    }
}
