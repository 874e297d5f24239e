using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Scripts;

namespace Worker.Core.Jobs;

/// <summary>
/// What the pipeline runs, whoever queued the job: its id, the backend and machine it asks for, its
/// script, its time limits and the values no log line may show. A travis job reads all of it from
/// its payload (<see cref="Of"/>); a Cirrus task builds it from the task, without a payload.
/// </summary>
public sealed record JobSpec
{
    /// <summary>Names the job in log parts, cancellations and machine labels.</summary>
    public required long JobId { get; init; }

    /// <summary>The backend the job runs on; null: the worker's own (<c>WORKER_PROVIDER_NAME</c>).</summary>
    public string? Backend { get; init; }

    /// <summary>What the job asks of its machine. The pipeline adds the hard timeout and the labels.</summary>
    public required Func<StartDefaults, StartAttributes> Machine { get; init; }

    public required IJobScript Script { get; init; }

    /// <summary>null: the worker's <c>WORKER_HARD_LIMIT</c>.</summary>
    public TimeSpan? HardLimit { get; init; }

    /// <summary>null: the worker's <c>WORKER_LOG_SILENCE</c>.</summary>
    public TimeSpan? LogSilence { get; init; }

    /// <summary>Values that never appear in a log line: replaced with <c>[secure]</c>.</summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];

    /// <summary>The travis document the spec was read from; null for a job that has none. <see cref="IPayloadReader"/>s look for more in it.</summary>
    public JobPayload? Payload { get; init; }

    /// <summary>A travis job: everything from its payload, the script from the worker's generator.</summary>
    public static JobSpec Of(JobPayload payload) => new()
    {
        JobId = payload.JobId,
        Machine = defaults => StartAttributes.From(payload, defaults),
        Script = new PayloadScript(payload),
        HardLimit = payload.HardLimit,
        LogSilence = payload.LogSilence,
        Secrets = payload.SecretValues,
        Payload = payload,
    };
}
