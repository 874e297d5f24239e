using System.Security.Cryptography;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Worker.Amqp;

/// <summary>
/// A job message as it came off the queue, copied out of the client's buffer (which is reused once
/// the delivery handler returns): the body and the properties a dead letter or a requeue copy carries
/// on, and the message's identity.
/// </summary>
internal sealed class ReceivedMessage
{
    private MessageIdentity? _identity;

    private ReceivedMessage(byte[] body, IReadOnlyBasicProperties properties, bool redelivered)
    {
        Body = body;
        Redelivered = redelivered;
        Type = properties.Type;
        ContentType = properties.ContentType;
        MessageId = properties.MessageId;
        Headers = properties.Headers is { } headers ? new Dictionary<string, object?>(headers) : null;
        RequeueCount = ReadCount(Headers, AmqpNames.RequeueCountHeader);
        LogParts = ReadCount(Headers, AmqpNames.LogPartsHeader);
    }

    public static ReceivedMessage From(BasicDeliverEventArgs delivery) =>
        new(delivery.Body.ToArray(), delivery.BasicProperties, delivery.Redelivered);

    public byte[] Body { get; }

    /// <summary>RabbitMQ delivered this message before and it was not acked (a worker or its channel was lost).</summary>
    public bool Redelivered { get; }

    public string? Type { get; }
    public string? ContentType { get; }
    public string? MessageId { get; }
    public IReadOnlyDictionary<string, object?>? Headers { get; }

    /// <summary>The <c>x-requeue-count</c> header: how often the job was requeued so far.</summary>
    public int RequeueCount { get; }

    /// <summary>The <c>x-log-parts</c> header: how many log parts the job's earlier attempts published (0 for a first attempt).</summary>
    public int LogParts { get; }

    /// <summary>
    /// Equal for two deliveries of the same message (a redelivery after a lost channel) and different
    /// for a requeue copy, which has a message id of its own and a requeue count one higher.
    /// </summary>
    public MessageIdentity Identity => _identity ??= new MessageIdentity(MessageId, RequeueCount, Convert.ToHexString(SHA256.HashData(Body)));

    private static int ReadCount(IReadOnlyDictionary<string, object?>? headers, string name) =>
        headers?.TryGetValue(name, out var value) == true
            ? value switch
            {
                int i => Math.Max(0, i),
                long l => (int)Math.Clamp(l, 0, int.MaxValue),
                byte[] b when int.TryParse(Encoding.UTF8.GetString(b), out var parsed) => Math.Max(0, parsed),
                _ => 0,
            }
            : 0;
}

/// <summary>What tells one job message from another with the same job id.</summary>
internal readonly record struct MessageIdentity(string? MessageId, int RequeueCount, string BodyHash)
{
    /// <summary>The identity as one string, for the host's record of finished jobs.</summary>
    public string Key => $"{MessageId}|{RequeueCount}|{BodyHash}";
}
