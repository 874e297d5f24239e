using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Core.Registration;

/// <summary>
/// Everything the executable knows about one backend, declared by the backend's own project. The
/// executable keeps one list of these, and every place that needs "all backends" (run, exec,
/// cleanup, <c>worker config</c>, the allowed values of <c>WORKER_PROVIDER_NAME</c>, the unknown-key
/// warnings) reads it, so a new backend is its folder plus one line in that list.
/// </summary>
public sealed record BackendRegistration
{
    /// <summary>Its <c>WORKER_PROVIDER_NAME</c> value.</summary>
    public required string Name { get; init; }

    /// <summary>The heading of its section in <c>worker config</c> and config.example.env.</summary>
    public required string SettingsTitle { get; init; }

    /// <summary>Its settings, travis-worker's other names for them included.</summary>
    public required IReadOnlyList<ISetting> Settings { get; init; }

    public required Func<WorkerServices, IBackend> CreateBackend { get; init; }

    /// <summary>
    /// Reads its settings as its backend does, so a rule across settings (softnet's networks without
    /// softnet, Spot with preemptible) stops <c>worker config</c> as it stops <c>worker run</c>; each
    /// value alone is checked for every backend anyway. Null: no rule beyond the values.
    /// </summary>
    public Action<SettingsSource>? CheckSettings { get; init; }

    /// <summary>What <c>worker cleanup</c> lists and deletes; null for a backend whose machines can't outlive the worker that made them.</summary>
    public Func<WorkerServices, CleanupInventory>? CreateInventory { get; init; }

    /// <summary>Beginnings of keys it reads besides its settings, each key a name of the operator's (GCE's image mappings, <c>GCE_IMAGE_XENIAL_RUBY</c>).</summary>
    public IReadOnlyList<string> KeyPrefixes { get; init; } = [];

    /// <summary>travis-worker settings of this backend that have no use here (key without prefix), each with the reason.</summary>
    public IReadOnlyDictionary<string, string> TravisOnlySettings { get; init; } = new Dictionary<string, string>();
}
