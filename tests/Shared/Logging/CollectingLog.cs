using Worker.Core.Logs;

namespace Worker.TestSupport;

/// <summary>A job log that keeps everything written to it, for backend tests that read the output back.</summary>
public sealed class CollectingLog : IJobLogWriter
{
    private readonly System.Text.StringBuilder _text = new();

    public string Text { get { lock (_text) { return _text.ToString(); } } }

    public ValueTask WriteAsync(string text, CancellationToken ct = default)
    {
        lock (_text)
        {
            _text.Append(text);
        }
        return ValueTask.CompletedTask;
    }
}
