using Microsoft.Extensions.Logging;
using Worker.Amqp;
using Worker.Core.Configuration;
using Worker.Core.Queues;
using Worker.Core.Registration;
using Worker.JobBoard;

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
        JobBoardRegistration.Source,
    ];

    public static readonly Setting<IReadOnlyList<string>> QueueType = new Setting<IReadOnlyList<string>>("QUEUE_TYPE", [FileQueueRegistration.Source.Name],
            "Where jobs come from: " + Sentence(All.Select(s => s.Summary)) + ". A comma list (e.g. amqp,http) takes jobs from each, as travis-worker does. " +
            "Default amqp, as travis-worker's, when a broker is set (WORKER_AMQP_URI) or the settings are in travis-worker's form.",
            $"{Sentence(All.Select(s => s.Name))}, or a comma list of them",
            ParseQueueTypes, types => string.Join(",", types))
        .DefaultingTo(settings => settings.InTravisForm || settings.Find(AmqpOptions.AmqpUri.Key) is not null
            ? [AmqpRegistration.Source.Name]
            : [FileQueueRegistration.Source.Name]);

    /// <summary>The job sources <c>WORKER_QUEUE_TYPE</c> names, in its order (checked against this list when read).</summary>
    public static IReadOnlyList<JobSourceRegistration> Configured(SettingsSource settings) =>
        [.. QueueType.Read(settings).Select(name => All.First(s => s.Name == name))];

    /// <summary>The queue jobs are taken from: the one source, or every listed one taken as one.</summary>
    public static IJobQueue CreateQueue(IReadOnlyList<JobSourceRegistration> sources, WorkerServices services) =>
        sources.Count == 1
            ? sources[0].CreateQueue(services)
            : new MultiSourceJobQueue([.. sources.Select(s => s.CreateQueue(services))], services.Loggers.CreateLogger<MultiSourceJobQueue>());

    private static (bool, IReadOnlyList<string>) ParseQueueTypes(string text)
    {
        var names = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(n => n.ToLowerInvariant()).ToList();
        var valid = names.Count > 0 && names.All(n => All.Any(s => s.Name == n)) && names.Distinct().Count() == names.Count;
        return (valid, valid ? names : []);
    }

    /// <summary>Their names, e.g. "file or amqp".</summary>
    public static string Names => Sentence(All.Select(s => s.Name));

    private static string Sentence(IEnumerable<string> items)
    {
        var list = items.ToList();
        return list.Count < 2 ? string.Concat(list) : string.Join(", ", list.SkipLast(1)) + " or " + list[^1];
    }
}
