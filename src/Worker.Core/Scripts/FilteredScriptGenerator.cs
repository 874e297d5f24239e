using Worker.Core.Jobs;

namespace Worker.Core.Scripts;

/// <summary>Makes a job's script from the payload <see cref="PayloadFilter"/> made of it.</summary>
public sealed class FilteredScriptGenerator(IScriptGenerator inner, PayloadFilter filter) : IScriptGenerator
{
    public async Task<string> GenerateAsync(JobPayload payload, CancellationToken ct) =>
        await inner.GenerateAsync(await filter.ApplyAsync(payload, ct), ct);
}
