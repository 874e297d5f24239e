namespace Worker.Gce;

/// <summary>
/// Spaces calls evenly at a given rate: each caller takes the next free slot and waits for it.
/// One instance is shared by all processors of a worker, so their calls together stay under the
/// project's API quota (travis-worker used a Redis window for the same purpose).
/// </summary>
public sealed class ApiRateLimiter(double callsPerSecond, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(1 / callsPerSecond);
    private readonly Lock _lock = new();
    private DateTimeOffset _nextSlot = DateTimeOffset.MinValue;

    public async ValueTask WaitAsync(CancellationToken ct)
    {
        TimeSpan wait;
        lock (_lock)
        {
            var now = _clock.GetUtcNow();
            var slot = _nextSlot > now ? _nextSlot : now;
            _nextSlot = slot + _interval;
            wait = slot - now;
        }
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, _clock, ct);
        }
    }
}
