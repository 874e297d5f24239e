using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Worker.Amqp;

internal static class ChannelClosing
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Closes and disposes a channel that may already be broken; a broken one has nothing left to say.</summary>
    public static Task CloseQuietlyAsync(this IChannel channel, ILogger logger, string what) =>
        CloseQuietlyAsync(channel.IsOpen, ct => channel.CloseAsync(ct), channel.DisposeAsync, logger, what);

    /// <summary>Closes a connection (a clean close, which the broker and the log don't take for a loss) and disposes it.</summary>
    public static Task CloseQuietlyAsync(this IConnection connection, ILogger logger, string what) =>
        CloseQuietlyAsync(connection.IsOpen, ct => connection.CloseAsync(ct), connection.DisposeAsync, logger, what);

    private static async Task CloseQuietlyAsync(bool open, Func<CancellationToken, Task> close, Func<ValueTask> dispose, ILogger logger, string what)
    {
        try
        {
            using var timeout = new CancellationTokenSource(CloseTimeout);
            if (open)
            {
                await close(timeout.Token);
            }
        }
        catch (Exception e)
        {
            logger.LogDebug("Closing {What}: {Error}", what, e.Message);
        }
        try
        {
            await dispose();
        }
        catch (Exception e)
        {
            logger.LogDebug("Disposing {What}: {Error}", what, e.Message);
        }
    }
}
