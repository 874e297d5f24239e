namespace Worker.Core.Logs;

/// <summary>Where a machine's output goes while the job runs.</summary>
public interface IJobLogWriter
{
    /// <summary>Appends output. May wait when the transport applies back-pressure.</summary>
    ValueTask WriteAsync(string text, CancellationToken ct = default);
}
