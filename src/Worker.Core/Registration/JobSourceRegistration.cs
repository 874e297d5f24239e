using Worker.Core.Configuration;
using Worker.Core.Queues;

namespace Worker.Core.Registration;

/// <summary>
/// Everything the executable knows about one job source (a <c>WORKER_QUEUE_TYPE</c>), declared by
/// the project that implements it. The executable keeps one list of these, read by run, submit,
/// <c>worker config</c> and the allowed values of <c>WORKER_QUEUE_TYPE</c>.
/// </summary>
public sealed record JobSourceRegistration
{
    /// <summary>Its <c>WORKER_QUEUE_TYPE</c> value.</summary>
    public required string Name { get; init; }

    /// <summary>What it is, in a few words, for the description of <c>WORKER_QUEUE_TYPE</c>.</summary>
    public required string Summary { get; init; }

    /// <summary>The heading of its section in <c>worker config</c>; unused when it has no settings of its own.</summary>
    public string SettingsTitle { get; init; } = "";

    public IReadOnlyList<ISetting> Settings { get; init; } = [];

    public required Func<WorkerServices, IJobQueue> CreateQueue { get; init; }

    /// <summary>
    /// Reads its settings as its queue does, so a setting it can't do without stops <c>worker run</c>
    /// before anything starts and <c>worker config</c> as well; null: no rule beyond the values.
    /// </summary>
    public Action<SettingsSource>? CheckSettings { get; init; }

    /// <summary>How <c>worker submit</c> puts a job on it; null for a source that takes no submitted jobs.</summary>
    public Func<WorkerServices, IJobSubmitter>? CreateSubmitter { get; init; }

    /// <summary>How many jobs wait in it (for the host's load gauge); null for a source that can't tell.</summary>
    public Func<WorkerServices, IQueueDepth>? CreateDepth { get; init; }

    /// <summary>travis-worker settings of this source that have no use here (key without prefix), each with the reason.</summary>
    public IReadOnlyDictionary<string, string> TravisOnlySettings { get; init; } = new Dictionary<string, string>();
}
