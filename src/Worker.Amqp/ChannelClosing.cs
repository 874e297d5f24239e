using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Worker.Amqp;

internal static class ChannelClosing
{
    /// <summary>Closes and disposes a channel that may already be broken; a broken one has nothing left to say.</summary>
    public static async Task CloseQuietlyAsync(this IChannel channel, ILogger logger, string what)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            if (channel.IsOpen)
            {
                await channel.CloseAsync(timeout.Token);
            }
        }
        catch (Exception e)
        {
            logger.LogDebug("Closing {What}: {Error}", what, e.Message);
        }
        try
        {
            await channel.DisposeAsync();
        }
        catch (Exception e)
        {
            logger.LogDebug("Disposing {What}: {Error}", what, e.Message);
        }
    }
}
