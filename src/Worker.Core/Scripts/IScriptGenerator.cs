using Worker.Core.Jobs;

namespace Worker.Core.Scripts;

/// <summary>Turns a job payload into the bash script its machine runs.</summary>
public interface IScriptGenerator
{
    Task<string> GenerateAsync(JobPayload payload, CancellationToken ct);
}

/// <summary>The payload can't be turned into a script; the job is errored with this message.</summary>
public sealed class ScriptGenerationException(string message, Exception? inner = null) : Exception(message, inner);
