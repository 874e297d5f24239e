using Serilog.Core;
using Serilog.Events;
using Worker.Core.Logs;

namespace Worker.Composition;

/// <summary>
/// Masks the running jobs' secrets in every property of a worker log line before any sink sees it
/// (stderr, the log file, OTLP): a job's outcome may quote what the job sent.
/// </summary>
internal sealed class SecretMaskingEnricher : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        if (!RunningJobSecrets.Any)
        {
            return;
        }
        List<LogEventProperty>? masked = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            if (value is ScalarValue { Value: { } scalar } && scalar is not (bool or int or long or double or decimal or DateTimeOffset or DateTime or TimeSpan)
                && scalar.ToString() is { } text && RunningJobSecrets.Mask(text) is var safe && !ReferenceEquals(safe, text))
            {
                (masked ??= []).Add(new LogEventProperty(name, new ScalarValue(safe)));
            }
        }
        foreach (var property in masked ?? [])
        {
            logEvent.AddOrUpdateProperty(property);
        }
    }
}
