namespace Worker.Amqp;

/// <summary>
/// travis-worker's <c>meta</c> on a job's first log part after it started: travis-logs measures
/// "time to first log line" from <see cref="QueuedAt"/> and names the metric by infra and queue.
/// </summary>
/// <param name="QueuedAt">The payload's <c>job.queued_at</c>, as the payload has it.</param>
/// <param name="Repo">The repository's slug.</param>
/// <param name="Queue">The payload's <c>queue</c>, else the job queue's name.</param>
/// <param name="Infra">This worker's <c>INFRA</c>; travis-worker sends it empty when unset, and so does this one.</param>
public sealed record JobStartedMeta(string QueuedAt, string Repo, string Queue, string Infra);
