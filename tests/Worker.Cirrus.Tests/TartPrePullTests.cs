using Microsoft.Extensions.Logging;
using Worker.Cirrus.Config;
using Worker.Cirrus.Standby;
using Worker.Cirrus.Tests.Fakes;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

/// <summary>
/// <c>tart-pre-pull</c>: each listed image pulled when due (never checked, no interval, or past the
/// last check plus the interval plus the drawn jitter), a failing pull logged and ignored. (Its run
/// before a standby boots, on the Tart stand-in, is in <see cref="StandbyTests"/>.)
/// </summary>
public sealed class TartPrePullTests
{
    private const string Sonoma = "ghcr.io/cirruslabs/macos-sonoma-xcode:latest";
    private const string Ubuntu = "ghcr.io/cirruslabs/ubuntu:latest";

    private readonly ManualClock _clock = new();
    private readonly RecordingImagePuller _tart = new();
    private readonly ListLoggerProvider _log = new();

    [Fact]
    public async Task The_first_check_pulls_every_image_in_order_and_leaves_their_pulls_to_the_pre_pull()
    {
        var prePull = PrePull(TimeSpan.FromHours(1), TimeSpan.Zero);

        await prePull.PullIfDueAsync(CancellationToken.None);

        Assert.Equal([Sonoma, Ubuntu], _tart.Pulls);
        Assert.Equal([Sonoma, Ubuntu], _tart.LeftToCaller);
    }

    [Fact]
    public async Task Images_are_pulled_again_only_once_the_interval_and_the_drawn_jitter_have_passed()
    {
        var prePull = PrePull(TimeSpan.FromHours(3), TimeSpan.FromMinutes(10), drawJitter: jitter => jitter / 2);
        await prePull.PullIfDueAsync(CancellationToken.None);

        _clock.Advance(TimeSpan.FromHours(3) + TimeSpan.FromMinutes(5));
        await prePull.PullIfDueAsync(CancellationToken.None);
        Assert.False(prePull.IsDue);
        Assert.Equal(2, _tart.Pulls.Count);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(prePull.IsDue);
        await prePull.PullIfDueAsync(CancellationToken.None);
        Assert.Equal(4, _tart.Pulls.Count);
        Assert.False(prePull.IsDue);
    }

    [Fact]
    public async Task Without_an_interval_every_check_pulls()
    {
        var prePull = PrePull(TimeSpan.Zero, TimeSpan.FromMinutes(10));

        await prePull.PullIfDueAsync(CancellationToken.None);
        await prePull.PullIfDueAsync(CancellationToken.None);

        Assert.Equal([Sonoma, Ubuntu, Sonoma, Ubuntu], _tart.Pulls);
    }

    [Fact]
    public async Task A_failing_pull_is_logged_and_ignored_and_the_check_still_counts()
    {
        _tart.Failing.Add(Sonoma);
        var prePull = PrePull(TimeSpan.FromHours(1), TimeSpan.Zero);

        await prePull.PullIfDueAsync(CancellationToken.None);

        Assert.Equal([Sonoma, Ubuntu], _tart.Pulls);
        Assert.Contains($"Pre-pulling Tart image {Sonoma} failed (failed to pull {Sonoma}: registry down (fake)); ignored", _log.Lines);
        Assert.False(prePull.IsDue);
    }

    [Fact]
    public async Task A_tart_backend_that_cannot_be_had_is_logged_and_nothing_is_pulled()
    {
        var prePull = new TartPrePull(new TartPrePullConfig([Sonoma], TimeSpan.Zero, TimeSpan.Zero),
            () => throw new InvalidOperationException("no tart here"), Logger(), _clock);

        await prePull.PullIfDueAsync(CancellationToken.None);

        Assert.Contains("tart-pre-pull can't run: the Tart backend can't be had (no tart here)", _log.Lines);
    }

    private TartPrePull PrePull(TimeSpan interval, TimeSpan jitter, Func<TimeSpan, TimeSpan>? drawJitter = null) =>
        new(new TartPrePullConfig([Sonoma, Ubuntu], interval, jitter), () => _tart, Logger(), _clock, drawJitter);

    private ILogger Logger() => LoggerFactory.Create(b => b.AddProvider(_log)).CreateLogger("cirrus-standby");
}
