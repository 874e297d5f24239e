using Microsoft.Extensions.Logging;
using Worker.Cirrus.Config;
using Worker.Cirrus.Jobs;
using Worker.Cirrus.Tasks;
using Worker.Core.Backends;

namespace Worker.Cirrus.Standby;

/// <summary>
/// <c>tart-pre-pull</c>, run where cirrus-cli runs it: just before a standby boots. When due, each
/// listed image is pulled with <c>tart pull</c>, one after the other; a pull that fails is logged and
/// ignored. Due means never checked, a <c>check-interval</c> of 0, or now past the last check plus
/// <c>check-interval</c> plus a random part of <c>jitter</c>. That part is drawn once per check (so
/// workers that started together spread out); cirrus-cli draws it and then drops it
/// (<c>nextPullAt.Add</c> unused), so its jitter has no effect. The Tart backend is told the images
/// are kept pulled, so a clone of one makes no pull of its own.
/// </summary>
public sealed class TartPrePull
{
    private readonly TartPrePullConfig _config;
    private readonly Func<IImagePuller> _tart;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Func<TimeSpan, TimeSpan> _drawJitter;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private DateTimeOffset? _nextCheck;
    private bool _leftToUs;

    /// <param name="tart">The Tart backend; made on first use, as a task naming it would make it.</param>
    /// <param name="drawJitter">A random duration below the one given; by default uniform.</param>
    public TartPrePull(TartPrePullConfig config, Func<IImagePuller> tart, ILogger logger, TimeProvider? clock = null,
        Func<TimeSpan, TimeSpan>? drawJitter = null)
    {
        _config = config;
        _tart = tart;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
        _drawJitter = drawJitter ?? (jitter => TimeSpan.FromTicks(Random.Shared.NextInt64(jitter.Ticks)));
    }

    /// <summary>The catalog's Tart backend, made when first asked for.</summary>
    public static Func<IImagePuller> TartOf(BackendCatalog backends) => () =>
        backends.For(CirrusJobSpec.BackendOf(IsolationKind.Tart)) as IImagePuller
            ?? throw new InvalidOperationException("the tart backend pulls no images");

    public bool IsDue => _config.CheckInterval == TimeSpan.Zero || _nextCheck is not { } next || _clock.GetUtcNow() > next;

    /// <summary>Pulls every listed image if due. Never throws but for <paramref name="ct"/>.</summary>
    public async Task PullIfDueAsync(CancellationToken ct)
    {
        if (_config.Images.Count == 0)
        {
            return;
        }
        await _oneAtATime.WaitAsync(ct);
        try
        {
            if (!IsDue)
            {
                return;
            }
            IImagePuller tart;
            try
            {
                tart = _tart();
            }
            catch (Exception e)
            {
                _logger.LogError("tart-pre-pull can't run: the Tart backend can't be had ({Error})", e.Message);
                return;
            }
            if (!_leftToUs)
            {
                tart.LeavePullsToCaller(_config.Images);
                _leftToUs = true;
            }
            foreach (var image in _config.Images)
            {
                _logger.LogInformation("Pre-pulling Tart image {Image}", image);
                try
                {
                    await tart.PullAsync(image, ct);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    _logger.LogError("Pre-pulling Tart image {Image} failed ({Error}); ignored", image, e.Message);
                }
            }
            _nextCheck = _clock.GetUtcNow() + _config.CheckInterval + (_config.Jitter > TimeSpan.Zero ? _drawJitter(_config.Jitter) : TimeSpan.Zero);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }
}
