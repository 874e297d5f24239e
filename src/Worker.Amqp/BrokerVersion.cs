using System.Text;
using RabbitMQ.Client;

namespace Worker.Amqp;

/// <summary>The RabbitMQ version a connection reached, from its server properties, and what that version can do.</summary>
internal static class BrokerVersion
{
    /// <summary>The version the broker announces (e.g. 3.10.8), or null when it names none this can read.</summary>
    public static Version? Of(IConnection connection)
    {
        var text = connection.ServerProperties?.TryGetValue("version", out var value) == true
            ? value switch
            {
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                string s => s,
                _ => null,
            }
            : null;
        // "3.13.7", "4.0.5", "3.12.0-rc.1": the numeric part is what counts.
        var numeric = new string((text ?? "").TakeWhile(c => char.IsDigit(c) || c == '.').ToArray()).Trim('.');
        return Version.TryParse(numeric, out var version) ? version : null;
    }

    /// <summary>RabbitMQ 3.12 and later take a consumer's own delivery timeout (<c>x-consumer-timeout</c>) over <c>consumer_timeout</c>.</summary>
    public static bool TakesConsumerTimeout(Version? version) => version is not null && version >= new Version(3, 12);
}
