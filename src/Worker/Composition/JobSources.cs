using Worker.Amqp;
using Worker.Core.Configuration;
using Worker.Core.Queues;
using Worker.Core.Registration;

namespace Worker.Composition;

/// <summary>
/// Every job source this worker has (<c>WORKER_QUEUE_TYPE</c>), each declared by the project that
/// implements it. Run, submit, the settings catalog and the allowed values of
/// <c>WORKER_QUEUE_TYPE</c> read this list; a new source is its folder plus one line here.
/// </summary>
public static class JobSources
{
    public static IReadOnlyList<JobSourceRegistration> All { get; } =
    [
        FileQueueRegistration.Source,
        AmqpRegistration.Source,
    ];

    public static readonly Setting<string> QueueType = Setting.OneOf("QUEUE_TYPE", FileQueueRegistration.Source.Name,
            "Where jobs come from: " + Sentence(All.Select(s => s.Summary)) + ". Default amqp, as travis-worker's, when a broker is set (WORKER_AMQP_URI) or the settings are in travis-worker's form.",
            [.. All.Select(s => s.Name)])
        .DefaultingTo(settings => settings.InTravisForm || settings.Find(AmqpOptions.AmqpUri.Key) is not null
            ? AmqpRegistration.Source.Name
            : FileQueueRegistration.Source.Name);

    /// <summary>The job source <c>WORKER_QUEUE_TYPE</c> names (checked against this list when read).</summary>
    public static JobSourceRegistration Configured(SettingsSource settings)
    {
        var name = QueueType.Read(settings);
        return All.First(s => s.Name == name);
    }

    /// <summary>Their names, e.g. "file or amqp".</summary>
    public static string Names => Sentence(All.Select(s => s.Name));

    private static string Sentence(IEnumerable<string> items)
    {
        var list = items.ToList();
        return list.Count < 2 ? string.Concat(list) : string.Join(", ", list.SkipLast(1)) + " or " + list[^1];
    }
}
