using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;

namespace Worker.Http;

/// <summary>Drains the pool once the host has lived its <see cref="RetirementOptions.Lifetime"/>; the run command then exits 0.</summary>
public sealed class Retirement : IAsyncDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly Task _timer;

    private Retirement(ProcessorPool pool, TimeSpan after, TimeSpan drainTimeout, ILogger logger)
    {
        After = after;
        _timer = RunAsync(pool, after, drainTimeout, logger, _cancel.Token);
    }

    /// <summary>When this host retires, counted from its start.</summary>
    public TimeSpan After { get; }

    /// <summary>Starts the countdown; null when the lifetime is off.</summary>
    public static Retirement? Start(RetirementOptions options, ProcessorPool pool, TimeSpan drainTimeout, ILogger logger)
    {
        if (!options.Enabled)
        {
            return null;
        }
        var after = Spread(options.Lifetime);
        logger.LogInformation("This worker retires after {Lifetime} (WORKER_MAX_LIFETIME {MaxLifetime})",
            Durations.Format(after), Durations.Format(options.Lifetime));
        return new Retirement(pool, after, drainTimeout, logger);
    }

    /// <summary>Up to a tenth earlier than the lifetime, at random, so hosts of one rollout don't all drain at once.</summary>
    public static TimeSpan Spread(TimeSpan lifetime) =>
        lifetime - TimeSpan.FromTicks((long)(lifetime.Ticks * 0.1 * Random.Shared.NextDouble()));

    private static async Task RunAsync(ProcessorPool pool, TimeSpan after, TimeSpan drainTimeout, ILogger logger, CancellationToken ct)
    {
        try
        {
            await Task.Delay(after, ct);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (pool.Draining)
        {
            return;
        }
        logger.LogInformation("Max lifetime reached: draining (up to {Timeout}) and exiting so the instance group replaces this host",
            drainTimeout);
        await pool.DrainAsync(drainTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        await _timer;
        _cancel.Dispose();
    }
}
