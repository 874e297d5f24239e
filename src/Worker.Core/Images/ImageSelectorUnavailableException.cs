using Worker.Core.Backends;

namespace Worker.Core.Images;

/// <summary>
/// The image selector (job-board) did not answer usably within its backoff. Nobody's fault on this
/// host or in the job: it is requeued and counted, as a full zone is, so a job-board outage longer
/// than the requeues last errors the job with this message, which names the selector's URL.
/// </summary>
public sealed class ImageSelectorUnavailableException(string message, Exception? inner = null)
    : BackendFailureException(FailureKind.Capacity, message, inner);
