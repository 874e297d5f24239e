using Worker.Core.Jobs;

namespace Worker.Core.Scripts;

/// <summary>A travis job's script: the worker's generator makes it from the payload.</summary>
public sealed class PayloadScript(JobPayload payload) : IJobScript
{
    public async Task<JobScript> GenerateAsync(IScriptGenerator generator, CancellationToken ct) =>
        new(await generator.GenerateAsync(payload, ct));
}
