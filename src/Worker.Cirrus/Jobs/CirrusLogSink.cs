using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.Cirrus.Jobs;

/// <summary>
/// Where a Cirrus task's log goes: the agent sends the task's output to Cirrus itself, so what the
/// pipeline writes (progress, the agent's own lines, the outcome) goes to the worker's log, one
/// line at a time, already masked. Terminal escapes and travis folds are left out.
/// </summary>
public sealed partial class CirrusLogSink(string taskId, ILogger logger) : ILogPartSink
{
    private readonly StringBuilder _partial = new();

    [GeneratedRegex(@"\x1b\[[0-9;]*[A-Za-z]|\r")]
    private static partial Regex TerminalControl();

    public ValueTask WritePartAsync(LogPart part, CancellationToken ct)
    {
        lock (_partial)
        {
            _partial.Append(part.Content);
            var text = _partial.ToString();
            var end = part.Final ? text.Length : text.LastIndexOf('\n') + 1;
            foreach (var line in text[..end].Split('\n'))
            {
                var clean = TerminalControl().Replace(line, "").TrimEnd();
                if (clean.Length > 0 && !clean.StartsWith("travis_fold:", StringComparison.Ordinal))
                {
                    logger.LogInformation("Task {TaskId}: {Line}", taskId, clean);
                }
            }
            _partial.Remove(0, end);
        }
        return ValueTask.CompletedTask;
    }
}
