using System.Diagnostics;
using System.Diagnostics.Metrics;
using Worker.Core.Pipeline;

namespace Worker.Core.Telemetry;

/// <summary>
/// The worker's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named
/// <see cref="Name"/>. Core and the backends emit through them; only the executable decides where
/// spans and metrics go (OpenTelemetry exporters), so nothing here depends on an exporter, and
/// with no listener a span is never created.
/// </summary>
public static class WorkerTelemetry
{
    public const string Name = "Worker";

    public static readonly ActivitySource Source = new(Name, WorkerVersion.Text);

    public static readonly Meter Meter = new(Name, WorkerVersion.Text);
}
