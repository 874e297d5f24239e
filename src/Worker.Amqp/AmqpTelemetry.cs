using System.Diagnostics.Metrics;
using System.Text;
using Worker.Core.Telemetry;

namespace Worker.Amqp;

/// <summary>
/// The AMQP transport's telemetry: the outboxes' depth and unconfirmed publishes as gauges, read
/// from every live <see cref="ConfirmedPublisher"/> when metrics are collected, and the W3C trace
/// context a job message carries in its <c>traceparent</c>/<c>tracestate</c> headers.
/// </summary>
internal static class AmqpTelemetry
{
    private static readonly object Lock = new();
    private static readonly List<ConfirmedPublisher> Publishers = [];

    private static readonly ObservableGauge<int> Held = WorkerTelemetry.Meter.CreateObservableGauge(
        "worker.amqp.outbox.messages", () => Measure(d => d.Messages), "{message}",
        "States and log parts in an outbox, waiting to be published or confirmed, by publisher (state, log).");

    private static readonly ObservableGauge<long> Bytes = WorkerTelemetry.Meter.CreateObservableGauge(
        "worker.amqp.outbox.size", () => Measure(d => d.Bytes), "By",
        "Bytes held in an outbox (WORKER_AMQP_OUTBOX_SIZE bounds it), by publisher.");

    private static readonly ObservableGauge<int> Unconfirmed = WorkerTelemetry.Meter.CreateObservableGauge(
        "worker.amqp.unconfirmed", () => Measure(d => d.Unconfirmed), "{message}",
        "Messages published and not yet confirmed by the broker, by publisher.");

    public static void Watch(ConfirmedPublisher publisher)
    {
        GC.KeepAlive(Held);
        GC.KeepAlive(Bytes);
        GC.KeepAlive(Unconfirmed);
        lock (Lock)
        {
            Publishers.Add(publisher);
        }
    }

    public static void Forget(ConfirmedPublisher publisher)
    {
        lock (Lock)
        {
            Publishers.Remove(publisher);
        }
    }

    /// <summary>Copies a job message's trace headers into its payload (which keeps its own if it has them).</summary>
    public static void CarryTraceContext(Core.Jobs.JobPayload payload, IReadOnlyDictionary<string, object?>? headers) =>
        JobTraceContext.Carry(payload, Header(headers, JobTraceContext.ParentField), Header(headers, JobTraceContext.StateField));

    private static string? Header(IReadOnlyDictionary<string, object?>? headers, string name) =>
        headers?.TryGetValue(name, out var value) == true
            ? value switch
            {
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                string text => text,
                _ => null,
            }
            : null;

    private static IEnumerable<Measurement<T>> Measure<T>(Func<ConfirmedPublisher.Depth, T> read) where T : struct
    {
        List<ConfirmedPublisher> publishers;
        lock (Lock)
        {
            publishers = [.. Publishers];
        }
        foreach (var publisher in publishers)
        {
            yield return new Measurement<T>(read(publisher.Measure()), new KeyValuePair<string, object?>("publisher", publisher.Purpose));
        }
    }
}
