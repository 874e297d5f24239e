using Worker.Core.Jobs;

namespace Worker.Commands;

/// <summary>Writes a job's log parts to the terminal as they arrive.</summary>
public sealed class ConsoleLogSink(TextWriter output) : ILogPartSink
{
    public async ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        if (part.Content.Length > 0)
        {
            await output.WriteAsync(part.Content);
            await output.FlushAsync(ct);
        }
    }
}
